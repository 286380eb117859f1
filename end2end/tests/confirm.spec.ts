import { test, expect, Page } from '@playwright/test';
import { api, signIn, watchConsole, waitForHydration } from './helpers';

// Confirmations as a person uses them: Escape and Cancel close them and give the focus back
// to the button that opened them, one is open at a time, and opening one moves nothing.

function card(page: Page, title: string) {
  return page.locator('.snapshot-card').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
}

/** Where every button of a card's action row is, to compare before and after. */
async function boxes(page: Page, title: string) {
  const buttons = card(page, title).locator('.snapshot-actions > .button, .snapshot-actions > a');
  // Page coordinates, not the viewport's: focusing a button may scroll the page.
  return buttons.evaluateAll((els) =>
    els.map((el) => {
      const r = el.getBoundingClientRect();
      return `${el.textContent} ${r.left + window.scrollX},${r.top + window.scrollY},${r.width}`;
    }),
  );
}

test('a confirmation closes with Escape or Cancel, one at a time, and moves nothing', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  const made = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'confirm-keys', image: 'demo' });
  const id = made.container.id;
  await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'one' });
  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  const one = card(page, 'one');
  const before = await boxes(page, 'one');
  expect(before.length).toBeGreaterThan(5);

  for (const name of ['Restore…', 'Copy…', 'Edit…', 'Verify…', 'Publish…', 'Delete…']) {
    // Opened with the keyboard: its dialog shows, Cancel has the focus, nothing moved.
    const opener = one.getByRole('button', { name, exact: true });
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = one.getByRole('dialog');
    await expect(dialog).toBeVisible();
    await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
    expect(await boxes(page, 'one')).toEqual(before);
    // Escape closes it, and the focus is back on its button.
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
    await expect(opener).toBeFocused();
  }

  // Cancel closes it too, back to its button.
  await one.getByRole('button', { name: 'Delete…' }).click();
  await one.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  await expect(one.getByRole('dialog')).toBeHidden();
  await expect(one.getByRole('button', { name: 'Delete…' })).toBeFocused();

  // Opening a second one closes the first.
  await one.getByRole('button', { name: 'Edit…' }).click();
  await expect(one.getByRole('dialog', { name: 'Edit snapshot one' })).toBeVisible();
  await one.getByRole('button', { name: 'Copy…' }).click();
  await expect(one.getByRole('dialog', { name: 'Copy snapshot one' })).toBeVisible();
  await expect(page.getByRole('dialog')).toHaveCount(1);
  await page.keyboard.press('Escape');

  // A refusal leaves it open with what was typed, to fix and send again; a success closes
  // it and says what it did.
  await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'confirm-taken', image: 'demo' });
  await one.getByRole('button', { name: 'Copy…' }).click();
  const copy = one.getByRole('dialog', { name: 'Copy snapshot one' });
  await copy.getByLabel('New container').fill('confirm-taken');
  await copy.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect(page.getByTestId('outcome')).toContainText('already has a container named');
  await expect(copy).toBeVisible();
  await expect(copy.getByLabel('New container')).toHaveValue('confirm-taken');
  await copy.getByLabel('New container').fill('confirm-fresh');
  await copy.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect(page.getByTestId('outcome')).toContainText('Copied into');
  await expect(page.getByRole('dialog')).toHaveCount(0);

  // Sending a confirmation's form closes it and says what it did.
  await one.getByRole('button', { name: 'Edit…' }).click();
  await one.getByLabel('New alias').fill('one-renamed');
  await one.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByTestId('outcome')).toContainText('one-renamed');
  await expect(page.getByRole('dialog')).toHaveCount(0);

  // The containers list: Delete… is a confirmation too.
  await page.goto('/');
  await waitForHydration(page);
  const row = page.locator('.container-row', { hasText: 'confirm-keys' });
  await row.getByRole('button', { name: 'Delete…' }).click();
  await expect(row.getByRole('dialog', { name: 'Delete container confirm-keys' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(row.getByRole('dialog')).toBeHidden();
  await expect(row.getByRole('button', { name: 'Delete…' })).toBeFocused();
  // The refused copy is the one console line (the browser logs every 409).
  expect(errors.filter((e) => !e.includes('409'))).toEqual([]);
});

import { test, expect, Page } from '@playwright/test';
import { api, signIn, watchConsole, waitForHydration } from './helpers';

/** The card of the snapshot whose title is exactly `title`. */
function card(page: Page, title: string) {
  return page.locator('.snapshot-card').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
}

async function exec(page: Page, id: string, script: string): Promise<any> {
  return api(page, 'POST', `/api/v1/containers/${id}/exec`, { command: ['sh', '-c', script] });
}

test('a user story: create, snapshot, break, restore, undo, delete, copy', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await signIn(page);
  await waitForHydration(page);

  // Create a container from the demo image.
  await page.getByLabel('Name', { exact: true }).fill('story');
  await page.getByRole('button', { name: 'Create container' }).click();
  const row = page.locator('.container-row', { hasText: 'story' });
  await expect(row).toBeVisible();
  const id = await row.getAttribute('data-container-id');
  expect(id).toMatch(/^[0-9a-f]{24}$/);
  await exec(page, id!, 'echo original > /root/app.conf');

  // Its timeline: take two snapshots.
  await row.getByRole('link', { name: 'story' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('story');
  await waitForHydration(page);
  for (const alias of ['first', 'second']) {
    await page.getByLabel('Alias', { exact: true }).fill(alias);
    await page.getByRole('button', { name: 'Take snapshot' }).click();
    await expect(page.getByTestId('outcome')).toContainText(new RegExp(`Snapshot ${alias} \\(snap-\\S+\\) taken\\.`));
    await expect(card(page, alias)).toBeVisible();
  }
  await expect(page.locator('.axis-point')).toHaveCount(2);

  // Validation before sending: an alias that is too long.
  await page.getByLabel('Alias', { exact: true }).fill('x'.repeat(101));
  await expect(page.locator('#alias-help')).toContainText('at most 100 characters');
  await expect(page.getByRole('button', { name: 'Take snapshot' })).toBeDisabled();
  await page.getByLabel('Alias', { exact: true }).fill('');

  // Break a file, then restore "first" (with the safety snapshot, checked by default).
  await exec(page, id!, 'echo broken > /root/app.conf');
  const first = card(page, 'first');
  await first.getByRole('button', { name: 'Restore…' }).click();
  await expect(first.getByLabel(/Take a safety snapshot first/)).toBeChecked();
  await first.getByRole('button', { name: 'Restore this snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText(/Restored to first \(snap-\S+\)\./);
  expect((await exec(page, id!, 'cat /root/app.conf')).stdout).toBe('original\n');
  await page.screenshot({ path: testInfo.outputPath('timeline-restored.png'), fullPage: true });

  // Undo the restore: the broken state comes back.
  await page.getByRole('button', { name: 'Undo restore' }).click();
  await expect(page.getByTestId('outcome')).toContainText('Restored to before-restore-');
  expect((await exec(page, id!, 'cat /root/app.conf')).stdout).toBe('broken\n');

  // Delete "second".
  const second = card(page, 'second');
  await second.getByRole('button', { name: 'Delete…' }).click();
  await second.getByRole('button', { name: 'Delete snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText('deleted.');
  await expect(card(page, 'second')).toHaveCount(0);

  // Copy "first" into a new container.
  const firstCard = card(page, 'first');
  await firstCard.getByRole('button', { name: 'Copy…' }).click();
  await firstCard.getByLabel('New container').fill('story-copy');
  await firstCard.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect(page.getByTestId('outcome')).toContainText('Copied into story-copy.');
  const list = await api(page, 'GET', '/api/v1/containers');
  const copy = list.containers.find((c: any) => c.name === 'story-copy');
  expect((await exec(page, copy.id, 'cat /root/app.conf')).stdout).toBe('original\n');

  await page.screenshot({ path: testInfo.outputPath('timeline-laptop.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('an alias is shown as text, never run as HTML', async ({ page }) => {
  const errors = watchConsole(page);
  let dialogs = 0;
  page.on('dialog', async (d) => {
    dialogs += 1;
    await d.dismiss();
  });
  await signIn(page);
  const created = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'xss', image: 'demo' });
  const alias = '<img src=x onerror=alert(1)>';
  await api(page, 'POST', `/api/v1/containers/${created.container.id}/snapshots`, { alias });
  await page.goto(`/containers/${created.container.id}`);
  await waitForHydration(page);
  await expect(page.locator('.snapshot-title', { hasText: alias })).toBeVisible();
  expect(await page.locator('.snapshot-card img').count()).toBe(0);
  expect(dialogs).toBe(0);
  expect(errors).toEqual([]);
});

test('a cross-site POST to a server function is refused with 403', async ({ page }) => {
  await signIn(page);
  const response = await page.request.post('/rpc/create_snapshot', {
    headers: { Origin: 'http://evil.example', 'Content-Type': 'application/x-www-form-urlencoded' },
    data: 'id=0123456789abcdef01234567&alias=evil&expiry=never',
  });
  expect(response.status()).toBe(403);
});

test('the timeline reads well on a phone', async ({ browser }, testInfo) => {
  const context = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await signIn(page);
  const list = await api(page, 'GET', '/api/v1/containers');
  const target = list.containers[0];
  await page.goto(`/containers/${target.id}`);
  await waitForHydration(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: testInfo.outputPath('timeline-phone.png'), fullPage: true });
  await context.close();
});

import { test, expect, Page } from '@playwright/test';
import { api, signIn, watchConsole, waitForHydration } from './helpers';

/** The card of the snapshot whose title is exactly `title`. */
function card(page: Page, title: string) {
  return page.locator('.snapshot-card').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
}

async function exec(page: Page, id: string, script: string): Promise<any> {
  return api(page, 'POST', `/api/v1/containers/${id}/exec`, { command: ['sh', '-c', script] });
}

async function container(page: Page, name: string): Promise<string> {
  const created = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name, image: 'demo' });
  return created.container.id;
}

test('a snapshot made through the REST API appears live, and a restore shows its progress', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await signIn(page);
  const id = await container(page, 'live');
  // Enough data that the restore below takes a moment.
  await exec(page, id, 'dd if=/dev/urandom of=/root/big bs=1M count=48 2>/dev/null; echo one > /root/f');
  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  await expect(page.locator('.snapshot-card')).toHaveCount(0);
  await page.evaluate(() => {
    (window as any).__sameDocument = true;
    // Everything the progress area ever shows, however briefly.
    const seen: string[] = ((window as any).__progress = []);
    const area = document.querySelector('[data-testid=progress]')!;
    new MutationObserver(() => {
      const text = area.textContent ?? '';
      if (text) seen.push(text);
    }).observe(area, { subtree: true, childList: true, characterData: true });
  });

  // A teammate (here: the REST API) takes a snapshot; it appears without a reload.
  await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'from-the-api' });
  await expect(card(page, 'from-the-api')).toBeVisible();
  await expect(page.locator('.axis-point:not(.older)')).toHaveCount(1);

  // A restore started elsewhere shows while it runs, then the timeline refreshes.
  await exec(page, id, 'echo two > /root/f; dd if=/dev/urandom of=/root/big bs=1M count=48 2>/dev/null');
  await api(page, 'PATCH', `/api/v1/containers/${id}/snapshots/from-the-api`);
  await expect
    .poll(async () => (await page.evaluate(() => (window as any).__progress as string[])).join(' | '))
    .toContain('Restoring');
  await expect(page.getByTestId('progress')).toBeEmpty();
  await expect(card(page, 'from-the-api')).toContainText('last used');
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  await page.screenshot({ path: testInfo.outputPath('live-update.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('compare a snapshot with the live files and with another snapshot', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await signIn(page);
  const id = await container(page, 'diffs');
  await exec(page, id, 'echo v1 > /root/app.conf; echo old > /root/old.txt');
  await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'v1' });
  await exec(page, id, 'echo v2 > /root/app.conf; rm /root/old.txt; echo new > /root/new.txt; chmod 600 /etc/hostname');
  await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'v2' });
  await exec(page, id, 'echo v3 > /root/app.conf');

  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  await card(page, 'v2').getByRole('link', { name: 'Compare with now' }).click();
  const diff = page.getByTestId('diff');
  await expect(diff.locator('li[data-kind="modified"]', { hasText: 'root/app.conf' })).toBeVisible();
  await expect(diff.locator('li')).toHaveCount(1);

  // Two snapshots, chosen in the form.
  const snaps = (await api(page, 'GET', `/api/v1/containers/${id}/snapshots`)).snapshots;
  const named = (alias: string) => snaps.find((s: any) => s.alias === alias).name;
  await page.getByLabel('Snapshot', { exact: true }).selectOption(named('v1'));
  await page.getByLabel('Compared with').selectOption(named('v2'));
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(diff.locator('li[data-kind="added"]', { hasText: 'root/new.txt' })).toBeVisible();
  await expect(diff.locator('li[data-kind="removed"]', { hasText: 'root/old.txt' })).toBeVisible();
  await expect(diff.locator('li[data-kind="modified"]', { hasText: 'root/app.conf' })).toBeVisible();
  await expect(diff.locator('li[data-kind="metadata"]', { hasText: 'etc/hostname' })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('diff.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('browse a snapshot and download one file', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await signIn(page);
  const id = await container(page, 'files');
  await exec(page, id, 'mkdir -p "/root/my dir" && printf "hello\\nworld\\n" > "/root/my dir/notes & more.txt"');
  await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'with-notes' });
  await exec(page, id, 'rm -r "/root/my dir"');

  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  await card(page, 'with-notes').getByRole('link', { name: 'Browse files' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Files of');
  await page.getByRole('link', { name: 'root/' }).click();
  await page.getByRole('link', { name: 'my dir/' }).click();
  await expect(page.getByRole('navigation', { name: 'Directory' })).toContainText('my dir');
  // One file: "1 entry", never "1 entries".
  await expect(page.locator('table caption')).toHaveText('1 entry in /root/my dir');
  const row = page.locator('tr[data-entry="notes & more.txt"]');
  await expect(row).toContainText('12 B');
  await page.screenshot({ path: testInfo.outputPath('browse.png'), fullPage: true });
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.getByRole('link', { name: 'Download notes & more.txt' }).click(),
  ]);
  const path = await download.path();
  const fs = await import('fs');
  expect(fs.readFileSync(path!, 'utf8')).toBe('hello\nworld\n');
  // Saved under its exact name (RFC 8187 filename*), not the ASCII fallback.
  expect(download.suggestedFilename()).toBe('notes & more.txt');

  // A path that is not there is a designed error, not a blank page.
  await page.goto(`/containers/${id}/snapshots/with-notes/files?path=/no/such`);
  await expect(page.getByRole('alert')).toContainText('Not found');
  expect(errors.filter((e) => !e.includes('404'))).toEqual([]);
});

test('edit a snapshot, pin it, verify it, and schedule automatic snapshots', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await signIn(page);
  const id = await container(page, 'edits');
  await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'draft', expiry: 7 });
  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  await expect(card(page, 'draft')).toContainText('expires in 7 days');

  // Rename and pin.
  const draft = card(page, 'draft');
  await draft.getByRole('button', { name: 'Edit…' }).click();
  await draft.getByLabel('New alias').fill('stable');
  await draft.getByLabel('New expiry').selectOption('never');
  await draft.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByTestId('outcome')).toContainText(/Snapshot stable \(snap-\S+\) saved: pinned\./);
  await expect(card(page, 'stable')).toContainText('permanent');
  const rest = await api(page, 'GET', `/api/v1/containers/${id}/snapshots/stable`);
  expect(rest.snapshot.expires_at).toBeNull();

  // An alias the server would refuse is caught before sending.
  const stable = card(page, 'stable');
  await stable.getByRole('button', { name: 'Edit…' }).click();
  await stable.getByLabel('New alias').fill('y'.repeat(101));
  await expect(stable.getByRole('button', { name: 'Save changes' })).toBeDisabled();
  await stable.getByLabel('New alias').fill('stable');

  // Verify, deeply.
  await stable.getByRole('button', { name: 'Verify…' }).click();
  await stable.getByLabel(/Re-read and re-hash/).check();
  await stable.getByRole('button', { name: 'Verify snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText('verified deeply: no damage');

  // Schedule: set, see it, turn it off. A bad expression is refused in words.
  const schedule = page.locator('section.schedule');
  await schedule.locator('summary', { hasText: 'Set a schedule…' }).click();
  await schedule.getByLabel('When (UTC)').fill('every tuesday');
  await schedule.getByRole('button', { name: 'Save schedule' }).click();
  // Refused in our words, with the form still open and what was typed kept.
  await expect(schedule.getByRole('alert')).toContainText('it has 2 fields; a schedule has five');
  await expect(schedule.getByRole('alert')).not.toContainText('Pattern');
  await expect(schedule.getByLabel('When (UTC)')).toHaveValue('every tuesday');
  await schedule.getByLabel('When (UTC)').fill('@hourly');
  await schedule.getByLabel('Keep each for').selectOption('30');
  await schedule.getByRole('button', { name: 'Save schedule' }).click();
  await expect(page.getByTestId('schedule-current')).toContainText('@hourly');
  await expect(page.getByTestId('schedule-current')).toContainText('kept 30 days');
  await expect(page.getByTestId('outcome')).toContainText('Schedule saved: @hourly (UTC)');
  const set = await api(page, 'GET', `/api/v1/containers/${id}/schedule`);
  expect(set.schedule.schedule).toBe('@hourly');
  await page.screenshot({ path: testInfo.outputPath('edit-verify-schedule.png'), fullPage: true });
  await schedule.getByRole('button', { name: 'Turn off' }).click();
  await expect(page.getByTestId('schedule-current')).toContainText('No schedule');
  await expect(page.getByTestId('outcome')).toContainText('Automatic snapshots turned off');
  // The refused schedule is the one failed request (a 400, said in the form).
  expect(errors.filter((e) => !e.includes('400'))).toEqual([]);
});

test('keyboard: skip link, disclosures and forms work without a mouse', async ({ page }) => {
  await signIn(page);
  const id = await container(page, 'keys');
  await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'k1' });
  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('main')).toBeFocused();
  // The delete confirmation opens with the keyboard, and its button takes focus.
  const k1 = card(page, 'k1');
  await k1.getByRole('button', { name: 'Delete…' }).focus();
  await page.keyboard.press('Enter');
  const del = k1.getByRole('button', { name: 'Delete snapshot' });
  await expect(del).toBeVisible();
  await del.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('outcome')).toContainText('deleted.');
  await expect(page.getByTestId('outcome')).toHaveAttribute('aria-live', 'polite');
});

test('no console errors on any page', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  const list = await api(page, 'GET', '/api/v1/containers');
  const demo = list.containers.find((c: any) => c.name === 'demo-app') ?? list.containers[0];
  const snaps = await api(page, 'GET', `/api/v1/containers/${demo.id}/snapshots`);
  const name = snaps.snapshots[0]?.name;
  const pages = ['/', '/docs', '/system', '/signin', `/containers/${demo.id}`, `/containers/${demo.id}?all=1`];
  if (name) {
    pages.push(`/containers/${demo.id}/diff?from=${name}&against=live`, `/containers/${demo.id}/snapshots/${name}/files?path=/`);
  }
  for (const path of pages) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(200);
    await expect(page.locator('main')).not.toBeEmpty();
  }
  expect(errors).toEqual([]);
});

test('without JavaScript: take a snapshot, restore it, and browse it as plain forms and links', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page);
  const id = await container(page, 'no-js');
  await exec(page, id, 'echo kept > /root/k.txt');
  await page.goto(`/containers/${id}`);
  await page.getByLabel('Alias', { exact: true }).fill('plain');
  await page.getByRole('button', { name: 'Take snapshot' }).click();
  await page.waitForURL((url) => url.pathname === `/containers/${id}`);
  await expect(card(page, 'plain')).toBeVisible();

  await exec(page, id, 'echo lost > /root/k.txt');
  const plain = card(page, 'plain');
  await plain.getByRole('button', { name: 'Restore…' }).click();
  await plain.getByRole('button', { name: 'Restore this snapshot' }).click();
  await page.waitForURL((url) => url.pathname === `/containers/${id}`);
  expect((await exec(page, id, 'cat /root/k.txt')).stdout).toBe('kept\n');

  await card(page, 'plain').getByRole('link', { name: 'Browse files' }).click();
  await page.getByRole('link', { name: 'root/' }).click();
  await expect(page.locator('tr[data-entry="k.txt"]')).toContainText('5 B');
  await context.close();
});

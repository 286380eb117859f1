import { test, expect, Page } from '@playwright/test';
import { api, settled, signIn, TOKEN, watchConsole, waitForHydration } from './helpers';

// Every action updates the page in place and says what it did; messages name a snapshot as
// its card does (alias, with the name beside it).

function card(page: Page, title: string) {
  return page.locator('.snapshot-card').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
}

/** Marks the page: the mark is gone if the page reloads. */
async function mark(page: Page) {
  await page.evaluate(() => ((window as any).__stayed = true));
}

async function stayed(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as any).__stayed === true);
}

test('start, stop and delete update the page in place and say what they did', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'fb-web', image: 'demo' });
  await page.goto('/');
  await waitForHydration(page);
  await mark(page);
  const row = page.locator('.container-row', { hasText: 'fb-web' });
  const outcome = page.getByTestId('outcome');

  await row.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(outcome).toHaveText('Started fb-web.');
  await expect(row.locator('[data-status]')).toHaveAttribute('data-status', 'running');
  await row.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(outcome).toHaveText('Stopped fb-web.');
  await expect(row.locator('[data-status]')).toHaveAttribute('data-status', 'stopped');

  await row.getByRole('button', { name: 'Delete…' }).click();
  await row.getByRole('button', { name: 'Delete container' }).click();
  await expect(outcome).toContainText('Deleted fb-web. Its snapshots stay');
  await expect(page.locator('.container-row:not(.deleted)', { hasText: 'fb-web' })).toHaveCount(0);
  expect(await stayed(page)).toBe(true);
  expect(errors).toEqual([]);
});

test('the timeline starts and stops its container in place', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  const made = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'fb-tl', image: 'demo' });
  await page.goto(`/containers/${made.container.id}`);
  await waitForHydration(page);
  await mark(page);
  await page.getByRole('button', { name: 'Start container' }).click();
  await expect(page.getByTestId('outcome')).toHaveText('Started fb-tl.');
  await expect(page.getByRole('heading', { level: 1 }).locator('[data-status]')).toHaveAttribute('data-status', 'running');
  await page.getByRole('button', { name: 'Stop container' }).click();
  await expect(page.getByTestId('outcome')).toHaveText('Stopped fb-tl.');
  expect(await stayed(page)).toBe(true);
  expect(errors).toEqual([]);
});

test('without JavaScript, start and stop come back saying what they did', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page);
  await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'fb-plain', image: 'demo' });
  await page.goto('/');
  const row = page.locator('.container-row', { hasText: 'fb-plain' });
  await row.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(page.getByTestId('outcome')).toHaveText('Started fb-plain.');
  await expect(row.locator('[data-status]')).toHaveAttribute('data-status', 'running');
  await row.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(page.getByTestId('outcome')).toHaveText('Stopped fb-plain.');
  // A signature made for another session is not shown.
  const url = new URL(page.url());
  url.searchParams.set('sig', '0'.repeat(64));
  await page.goto(url.toString());
  await expect(page.locator('.container-row', { hasText: 'fb-plain' })).toBeVisible();
  await expect(page.getByTestId('outcome')).toHaveText('');
  // Create: a taken name comes back with what was typed and why; a new one says it was made.
  await page.goto('/');
  await page.getByLabel('Name', { exact: true }).fill('fb-plain');
  await page.getByRole('button', { name: 'Create container' }).click();
  await expect(page.getByTestId('create-error')).toContainText('already has a container named');
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('fb-plain');
  await page.getByLabel('Name', { exact: true }).fill('fb-plain-2');
  await page.getByRole('button', { name: 'Create container' }).click();
  await expect(page.getByTestId('outcome')).toHaveText('Created fb-plain-2.');
  await expect(page.locator('.container-row', { hasText: 'fb-plain-2' })).toBeVisible();
  await context.close();
});

test('Undo the restore stays on the newest card after a reload, and messages use aliases', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  const made = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'fb-undo', image: 'demo' });
  const id = made.container.id;
  const taken = await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'good' });
  const name: string = taken.snapshot.name;
  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  await card(page, 'good').getByRole('button', { name: 'Restore…' }).click();
  await expect(page.getByRole('dialog', { name: `Restore snapshot good (${name})` })).toBeVisible();
  await card(page, 'good').getByRole('button', { name: 'Restore this snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText(`Restored to good (${name}).`);

  // After a reload the outcome is gone, but the newest card (the safety snapshot) offers
  // the undo, with the restore's time.
  await page.reload();
  await waitForHydration(page);
  const undo = page.getByTestId('undo-restore');
  await expect(undo).toHaveCount(1);
  await expect(undo).toHaveText(/^Undo the restore of \d\d:\d\d UTC$/);
  await expect(page.locator('.snapshot-card').first()).toContainText('before-restore-');
  await undo.click();
  await expect(page.getByTestId('outcome')).toContainText('Restored to before-restore-');
  // Once another snapshot is newer, the card no longer offers it.
  await page.getByLabel('Alias', { exact: true }).fill('later');
  await page.getByRole('button', { name: 'Take snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText(`Snapshot later (snap-`);
  await expect(page.getByTestId('undo-restore')).toHaveCount(0);

  // Delete and verify name it by alias too, and so does the Files page.
  await card(page, 'good').getByRole('button', { name: 'Verify…' }).click();
  await card(page, 'good').getByRole('button', { name: 'Verify snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText(`Snapshot good (${name}) verified`);
  await page.goto(`/containers/${id}/snapshots/${name}/files`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Files of good (${name})`);
  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  await card(page, 'later').getByRole('button', { name: 'Delete…' }).click();
  await card(page, 'later').getByRole('button', { name: 'Delete snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText(/Snapshot later \(snap-\S+\) deleted\./);
  expect(errors).toEqual([]);
});

test('a project is deleted from the System page once it is empty, and says why not before', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  const project = await api(page, 'POST', '/api/v1/projects', { name: 'fb-doomed' });
  const box = await api(page, 'POST', '/api/v1/containers', { project_id: project.project.id, name: 'fb-tenant', image: 'demo' });
  await page.goto('/system');
  await settled(page);
  const row = page.locator('[data-project="fb-doomed"]');
  // Refused while it holds a container, in words that say what it holds.
  await row.getByRole('button', { name: 'Delete…' }).click();
  await row.getByRole('button', { name: 'Delete project' }).click();
  await expect(page.getByRole('alert')).toContainText('fb-tenant');
  await expect(page.locator('[data-project="fb-doomed"]')).toHaveCount(1);
  // Emptied, it goes, and the page says so.
  await api(page, 'DELETE', `/api/v1/containers/${box.container.id}`);
  await page.locator('[data-project="fb-doomed"]').getByRole('button', { name: 'Delete…' }).click();
  await page.locator('[data-project="fb-doomed"]').getByRole('button', { name: 'Delete project' }).click();
  await expect(page.getByTestId('project-outcome')).toHaveText('Project fb-doomed deleted.');
  await expect(page.locator('[data-project="fb-doomed"]')).toHaveCount(0);
  expect(errors.filter((e) => !e.includes('409'))).toEqual([]);
});

test('run history and drafts are cleared by their owner, after asking', async ({ page }) => {
  await signIn(page);
  await page.goto('/docs');
  const custom = page.locator('#run-custom');
  await custom.getByLabel('Path').fill('/api/v1/projects');
  await custom.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(page.locator('#history').getByTestId('history-run').first()).toBeVisible();
  const history = page.locator('#history');
  // Cancel keeps it.
  await history.getByRole('button', { name: 'Clear history…' }).click();
  await history.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  await expect(history.getByTestId('history-run').first()).toBeVisible();
  await history.getByRole('button', { name: 'Clear history…' }).click();
  await history.getByRole('button', { name: 'Clear history', exact: true }).click();
  await expect(page.locator('#history').getByRole('status')).toContainText('Your run history is cleared');
  await expect(page.locator('#history').getByTestId('history-run')).toHaveCount(0);
  await page.locator('#history').getByRole('button', { name: 'Clear drafts…' }).click();
  await page.locator('#history').getByRole('button', { name: 'Clear drafts', exact: true }).click();
  await expect(page.locator('#history').getByRole('status')).toContainText('Your drafts are cleared');
  // The form starts from its default again.
  await expect(page.locator('#run-custom').getByLabel('Path')).toHaveValue('/api/v1/health');
});

test('a mistyped container address is a page that does not exist, with a way back', async ({ page }) => {
  await signIn(page);
  for (const path of ['/containers/nope', '/containers/nope/diff']) {
    const r = await page.goto(path);
    expect(r?.status(), path).toBe(404);
    await expect(page.getByRole('alert')).toContainText('There is no container "nope"');
    await expect(page.getByRole('link', { name: 'Back to containers' })).toBeVisible();
  }
});

test('schedule Save and Turn off update in place on a phone: a refusal keeps the input, the page stays put', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page);
  const made = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'fb-sched', image: 'demo' });
  const id = made.container.id;
  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  await mark(page);
  const schedule = page.locator('section.schedule');
  await schedule.locator('summary', { hasText: 'Set a schedule…' }).click();
  await schedule.getByLabel('When (UTC)').fill('61 25 * * *');
  await schedule.getByLabel('last', { exact: true }).fill('4');
  await schedule.getByRole('button', { name: 'Save schedule' }).click();
  // Refused in place, in words that name the field, with everything typed still there.
  await expect(schedule.getByTestId('schedule-error')).toContainText('minute');
  // It takes the focus, so it is seen and read; the page stayed.
  await expect(schedule.getByTestId('schedule-error')).toBeFocused();
  await expect(schedule.getByTestId('schedule-error')).toBeInViewport();
  await expect(schedule.getByLabel('When (UTC)')).toHaveValue('61 25 * * *');
  await expect(schedule.getByLabel('last', { exact: true })).toHaveValue('4');
  expect(await stayed(page)).toBe(true);
  expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(0);

  // Editing the form clears the message about what was sent before.
  await schedule.getByLabel('When (UTC)').fill('@daily');
  await expect(schedule.getByTestId('schedule-error')).toHaveCount(0);
  await schedule.getByRole('button', { name: 'Save schedule' }).click();
  await expect(page.getByTestId('outcome')).toContainText('Schedule saved: @daily');
  await expect(page.getByTestId('schedule-current')).toContainText('@daily');
  await expect(page.getByTestId('schedule-keep')).toContainText('last 4');
  expect(await stayed(page)).toBe(true);
  // Where it was, not back at the top; the form closed, with the focus on it.
  await expect(page.getByRole('heading', { name: 'Automatic snapshots' })).toBeInViewport();
  expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(0);
  const summary = schedule.locator('summary', { hasText: 'Change the schedule or keep policy…' });
  await expect(page.getByRole('heading', { name: 'Automatic snapshots' })).toBeFocused();
  await expect(schedule.getByTestId('schedule-error')).toHaveCount(0);
  await page.screenshot({ path: testInfo.outputPath('schedule-saved-in-place.png'), fullPage: true });
  // The form holds what is saved.
  await summary.click();
  await expect(schedule.getByLabel('When (UTC)')).toHaveValue('@daily');
  await expect(schedule.getByLabel('last', { exact: true })).toHaveValue('4');

  await schedule.getByRole('button', { name: 'Turn off' }).click();
  await expect(page.getByTestId('outcome')).toContainText('Automatic snapshots turned off');
  await expect(page.getByTestId('schedule-current')).toContainText('No schedule');
  expect(await stayed(page)).toBe(true);
  await expect(page.getByRole('heading', { name: 'Automatic snapshots' })).toBeFocused();
  const gone = await page.request.get(`/api/v1/containers/${id}/schedule`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  expect(gone.status()).toBe(404);
  // The refused save is the one failed request.
  expect(errors.filter((e) => !e.includes('400'))).toEqual([]);
});

test('without JavaScript, schedule Save and Turn off come back to the schedule saying what they did', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await signIn(page);
  const made = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'fb-sched-plain', image: 'demo' });
  await page.goto(`/containers/${made.container.id}`);
  const schedule = page.locator('section.schedule');
  await schedule.locator('summary', { hasText: 'Set a schedule…' }).click();
  await schedule.getByLabel('When (UTC)').fill('every tuesday-ish');
  await schedule.getByRole('button', { name: 'Save schedule' }).click();
  await expect(schedule.getByTestId('schedule-error')).toContainText('a schedule has five');
  await expect(schedule.getByLabel('When (UTC)')).toHaveValue('every tuesday-ish');
  // The error travels in the address, signed for this session: the same address with its
  // signature changed or removed (a link made by someone else) shows no error.
  const refused = new URL(page.url());
  expect(refused.hash).toBe('#schedule-title');
  for (const sig of ['0'.repeat(64), null]) {
    const forged = new URL(refused);
    if (sig === null) forged.searchParams.delete('__sig');
    else forged.searchParams.set('__sig', sig);
    await page.goto(forged.toString());
    await expect(page.getByTestId('schedule-current')).toBeVisible();
    await expect(page.getByTestId('schedule-error')).toHaveCount(0);
  }
  await page.goto(refused.toString());
  await expect(schedule.getByTestId('schedule-error')).toContainText('a schedule has five');
  // Preview comes back to the schedule card too, not to the top of the page, with its
  // heading below the top bar that stays on screen, not under it.
  await schedule.getByRole('button', { name: 'Preview keep policy' }).click();
  expect(new URL(page.url()).hash).toBe('#schedule-title');
  const heading = page.getByRole('heading', { name: 'Automatic snapshots' });
  await expect(heading).toBeInViewport();
  const bar = await page.locator('.topbar').boundingBox();
  const top = await heading.boundingBox();
  expect(top!.y).toBeGreaterThanOrEqual(bar!.y + bar!.height);
  await schedule.getByLabel('When (UTC)').fill('@daily');
  await schedule.getByRole('button', { name: 'Save schedule' }).click();
  await expect(page.getByTestId('outcome')).toContainText('Schedule saved: @daily');
  expect(new URL(page.url()).hash).toBe('#schedule-title');
  await expect(page.getByRole('heading', { name: 'Automatic snapshots' })).toBeInViewport();
  expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(0);
  await schedule.getByRole('button', { name: 'Turn off' }).click();
  await expect(page.getByTestId('outcome')).toContainText('Automatic snapshots turned off');
  await expect(page.getByTestId('schedule-current')).toContainText('No schedule');
  await context.close();
});

/** URL-safe base64 with padding, as server_fn writes an error into an address. */
function urlSafe(text: string): string {
  return Buffer.from(text).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

test('an error written into a link is never shown as the page\'s own words', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  // A refused sign-in without JavaScript comes back with its error in the address.
  await page.goto('/signin');
  await page.getByLabel('Token', { exact: true }).fill('hdy_not-a-real-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('signin-refused')).toContainText('That token was refused');
  // The same address with other words in its error: the page says its own words only.
  const url = new URL(page.url());
  const err = url.searchParams.get('__err') ?? '';
  const decoded = Buffer.from(err, 'base64url').toString('utf8');
  expect(decoded.length).toBeGreaterThan(0);
  const forgedText = decoded.replace(/"[^"]*"(?=[^"]*$)/, '"Your session expired: sign in at evil.example"');
  expect(forgedText).toContain('evil.example');
  const forged = new URL(url);
  forged.searchParams.set('__err', urlSafe(forgedText));
  await page.goto(forged.toString());
  await expect(page.getByTestId('signin-refused')).toContainText('That token was refused');
  await expect(page.getByText('evil.example')).toHaveCount(0);
  // Signed in, a page's action errors from a link are not shown either (no signature).
  await signIn(page);
  const made = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'fb-forged', image: 'demo' });
  const bad = encodeURIComponent(urlSafe(forgedText));
  for (const [path, at] of [['/rpc/container_action', '/'], ['/rpc/create_container', '/'], ['/rpc/save_schedule', `/containers/${made.container.id}`]]) {
    await page.goto(`${at}?__path=${encodeURIComponent(path)}&__err=${bad}`);
    await expect(page.locator('main')).toBeVisible();
    await expect(page.getByText('evil.example')).toHaveCount(0);
  }
  await context.close();
});

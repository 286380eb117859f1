import { test, expect, Page, Locator, Browser } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { api, signIn, watchConsole, waitForHydration, TOKEN } from './helpers';

const CREATE = 'POST /api/v1/containers/{container_id}/snapshots';
const RESTORE = 'PATCH /api/v1/containers/{container_id}/snapshots/{snapshot_name}';
const LIST = 'GET /api/v1/containers/{container_id}/snapshots';

/** The docs page's card of one operation. */
function operation(page: Page, key: string): Locator {
  return page.locator(`article[data-operation="${key}"]`);
}

/** Opens an operation's Run widget and returns it. */
async function widget(page: Page, key: string): Promise<Locator> {
  const w = operation(page, key).locator('details.run-widget');
  if ((await w.getAttribute('open')) === null) {
    await w.locator('summary').first().click();
  }
  return w;
}

async function container(page: Page, name: string): Promise<string> {
  const created = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name, image: 'demo' });
  return created.container.id;
}

async function snapshotCount(page: Page, id: string): Promise<number> {
  return (await api(page, 'GET', `/api/v1/containers/${id}/snapshots`)).snapshots.length;
}

/** Runs a shell command the way a user pastes a snippet into a terminal. */
function shell(code: string): { status: number; stdout: string; stderr: string } {
  const bin = process.env.SNAPLINE_BIN ?? '';
  const env = { ...process.env, SNAPLINE_TOKEN: TOKEN, PATH: `${path.dirname(bin)}:${process.env.PATH}` };
  const r = spawnSync('bash', ['-c', code], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('run POST snapshots, fill the new name into the restore, run it; the timeline shows both', async ({ page, context }, testInfo) => {
  const errors = watchConsole(page);
  await signIn(page);
  const id = await container(page, 'docs-run');
  // A teammate watches the timeline while the docs page runs requests.
  const timeline = await context.newPage();
  await timeline.goto(`/containers/${id}`);
  await waitForHydration(timeline);

  await page.goto('/docs');
  let w = await widget(page, CREATE);
  // Container ids come from live data: the dropdown offers this one.
  await expect(page.locator(`#dl-containers option[value="${id}"]`)).toHaveCount(1);
  await w.getByLabel('container_id (path, required)').fill(id);
  await w.getByLabel('Body (JSON)').fill('{"alias": "from-docs", "expiry": 7}');
  await w.getByRole('button', { name: 'Run', exact: true }).click();

  w = operation(page, CREATE).locator('details.run-widget');
  await expect(w.getByTestId('run-status')).toHaveText('200');
  await expect(w.getByTestId('run-message')).toHaveText('Snapshot created successfully');
  const answer = JSON.parse(await w.getByTestId('run-body').innerText());
  const name: string = answer.data.snapshot.name;
  expect(name).toMatch(/^snap-\d{8}-\d{6}/);
  await expect(w.getByText('content-type', { exact: true })).toBeAttached();
  await expect(card(timeline, 'from-docs')).toBeVisible();

  // One click puts the name into the restore widget.
  await w.getByTestId('fill-links').getByRole('link', { name: /^PATCH · Restores/ }).click();
  const r = await widget(page, RESTORE);
  await expect(r.getByLabel('container_id (path, required)')).toHaveValue(id);
  await expect(r.getByLabel('snapshot_name (path, required)')).toHaveValue(name);
  await r.getByRole('button', { name: 'Run', exact: true }).click();
  const restored = operation(page, RESTORE).locator('details.run-widget');
  await expect(restored.getByTestId('run-status')).toHaveText('200');
  await expect(restored.getByTestId('run-body')).toContainText(name);
  await expect(card(timeline, 'from-docs')).toContainText('last used');

  await page.screenshot({ path: testInfo.outputPath('docs-run.png'), fullPage: false });

  // The run is in the history, and a replay sends it again (a second restore): a request
  // that changes state asks first, and Cancel sends nothing.
  const newest = page.locator('#history').getByTestId('history-run').first();
  await expect(newest).toContainText('PATCH');
  const runs = await page.locator('#history').getByTestId('history-run').count();
  await newest.getByRole('button', { name: 'Replay…' }).click();
  const ask = newest.getByRole('dialog');
  await expect(ask).toContainText(`Send PATCH /api/v1/containers/${id}/snapshots/${name} again?`);
  await ask.getByRole('button', { name: 'Cancel' }).click();
  await expect(ask).toBeHidden();
  await expect(page.locator('#history').getByTestId('history-run')).toHaveCount(runs);
  await newest.getByRole('button', { name: 'Replay…' }).click();
  await ask.getByRole('button', { name: 'Send it again' }).click();
  await expect(page).toHaveURL(/[?&]run=\d+/);
  await expect(operation(page, RESTORE).getByTestId('run-status')).toHaveText('200');
  await expect(page.locator('#history').getByTestId('history-run')).toHaveCount(runs + 1);
  expect(errors).toEqual([]);
});

function card(page: Page, title: string): Locator {
  return page.locator('.snapshot-card').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
}

test('a malformed body is caught before sending, shown inline, and kept', async ({ page }) => {
  await signIn(page);
  const id = await container(page, 'docs-bad-body');
  await page.goto('/docs');
  const w = await widget(page, CREATE);
  await w.getByLabel('container_id (path, required)').fill(id);
  await w.getByLabel('Body (JSON)').fill('{"alias": ');
  await w.getByRole('button', { name: 'Run', exact: true }).click();
  const again = operation(page, CREATE).locator('details.run-widget');
  await expect(again.getByRole('alert')).toContainText('Not sent');
  await expect(again.getByRole('alert')).toContainText('not valid JSON');
  await expect(again.getByLabel('Body (JSON)')).toHaveValue('{"alias": ');
  await expect(again.getByLabel('Body (JSON)')).toHaveAttribute('aria-invalid', 'true');
  // Valid JSON that breaks the schema is caught too, with where.
  await again.getByLabel('Body (JSON)').fill('{"alias": 42, "expiry": "soon"}');
  await again.getByRole('button', { name: 'Run', exact: true }).click();
  const third = operation(page, CREATE).locator('details.run-widget');
  await expect(third.getByRole('alert')).toContainText('/alias');
  await expect(third.getByRole('alert')).toContainText('/expiry');
  // So are values out of the range the schema states (the server's own limits).
  await third.getByLabel('Body (JSON)').fill('{"expiry": 99999, "alias": "' + 'x'.repeat(101) + '"}');
  await third.getByRole('button', { name: 'Run', exact: true }).click();
  const fourth = operation(page, CREATE).locator('details.run-widget');
  await expect(fourth.getByRole('alert')).toContainText('Not sent');
  await expect(fourth.getByRole('alert')).toContainText('/expiry: 99999 is greater than the maximum of 3650');
  await expect(fourth.getByRole('alert')).toContainText('/alias');
  await fourth.getByLabel('Body (JSON)').fill('{"alias": 42, "expiry": "soon"}');
  await fourth.getByRole('button', { name: 'Keep draft' }).click();
  expect(await snapshotCount(page, id)).toBe(0);

  // The last body is kept in the database: it survives signing out and in again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
  await signIn(page);
  await page.goto('/docs');
  const kept = await widget(page, CREATE);
  await expect(kept.getByLabel('Body (JSON)')).toHaveValue('{"alias": 42, "expiry": "soon"}');
  await expect(kept.getByLabel('container_id (path, required)')).toHaveValue(id);
});

test('a 404 for an unknown snapshot is shown with its message', async ({ page }) => {
  await signIn(page);
  const id = await container(page, 'docs-404');
  await page.goto('/docs');
  const w = await widget(page, RESTORE);
  await w.getByLabel('container_id (path, required)').fill(id);
  await w.getByLabel('snapshot_name (path, required)').fill('snap-19990101-000000');
  await w.getByRole('button', { name: 'Run', exact: true }).click();
  const r = operation(page, RESTORE).locator('details.run-widget');
  await expect(r.getByTestId('run-status')).toHaveText('404');
  await expect(r.getByTestId('run-message')).toContainText('snap-19990101-000000');
});

async function projectToken(page: Page): Promise<string> {
  const projects = await api(page, 'GET', '/api/v1/projects');
  const project = projects.projects.find((p: any) => p.name === 'default');
  const made = await api(page, 'POST', '/api/v1/tokens', { name: 'teammate', project_ids: [project.id] });
  return made.token;
}

async function signInAs(browser: Browser, token: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/signin');
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  return page;
}

test('a saved example survives a reload and a second user of the project sees it', async ({ page, browser }) => {
  await signIn(page);
  const id = await container(page, 'docs-example');
  await page.goto('/docs');
  const w = await widget(page, CREATE);
  await w.getByLabel('container_id (path, required)').fill(id);
  await w.getByLabel('Body (JSON)').fill('{"alias": "pre-deploy", "expiry": 30}');
  await w.locator('details.save-example > summary').click();
  await w.getByLabel('Name').fill('Before a deploy');
  await w.getByLabel('Note').fill('Keep it a month.');
  await w.getByRole('button', { name: 'Save example' }).click();
  // Saved: the page comes back with the example open for editing.
  await expect(page).toHaveURL(/[?&]example=/);
  await expect(operation(page, CREATE).getByRole('button', { name: 'Save changes' })).toBeVisible();
  await page.reload();
  const saved = operation(page, CREATE).getByTestId('example').filter({ hasText: 'Before a deploy' });
  await expect(saved).toContainText('Keep it a month.');

  const mate = await signInAs(browser, await projectToken(page));
  await mate.goto('/docs');
  const theirs = await widget(mate, CREATE);
  const shared = theirs.getByTestId('example').filter({ hasText: 'Before a deploy' });
  await expect(shared).toContainText('Keep it a month.');
  // The teammate loads it: its parameters and body fill the form, ready to run.
  await shared.getByRole('link', { name: 'Use / edit' }).click();
  const loaded = operation(mate, CREATE).locator('details.run-widget');
  await expect(loaded.getByLabel('container_id (path, required)')).toHaveValue(id);
  await expect(loaded.getByLabel('Body (JSON)')).toHaveValue('{"alias": "pre-deploy", "expiry": 30}');
  await loaded.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(operation(mate, CREATE).getByTestId('run-status')).toHaveText('200');
  // The teammate deletes it, which asks first (Cancel keeps it), then says it went; it is
  // gone for everyone.
  const again = await widget(mate, CREATE);
  const item = again.getByTestId('example').filter({ hasText: 'Before a deploy' });
  await item.getByRole('button', { name: 'Delete…' }).click();
  const ask = item.getByRole('dialog', { name: 'Delete the example Before a deploy' });
  await expect(ask).toContainText('for everyone in');
  await ask.getByRole('button', { name: 'Cancel' }).click();
  await expect(ask).toBeHidden();
  await expect(item).toBeVisible();
  await item.getByRole('button', { name: 'Delete…' }).click();
  await ask.getByRole('button', { name: 'Delete example' }).click();
  await expect(operation(mate, CREATE).getByRole('status').filter({ hasText: 'deleted' })).toHaveText('Example “Before a deploy” deleted.');
  await expect(operation(mate, CREATE).getByTestId('example')).toHaveCount(0);
  await page.reload();
  await expect(operation(page, CREATE).getByTestId('example')).toHaveCount(0);
  await mate.context().close();
});

test('the SSRF path corpus is refused before anything is sent', async ({ page }) => {
  await signIn(page);
  await page.goto('/docs');
  const corpus = [
    'http://127.0.0.1:1/api/v1/health',
    'https://evil.example/api/v1/health',
    '//evil.example/api/v1/health',
    '/api/v1/../../etc/passwd',
    '/api/v1/%2e%2e/rpc/sign_out',
    '/api/v1/%2E%2E%2Fsignin',
    '/api/v1/containers%2f..%2f..%2fsignin',
    '/api/v1/a\\b',
    '/api/v1/..\\..\\signin',
    '/rpc/sign_out',
    '/signin',
    '/api/v2/health',
    '/api/v1//evil.example',
    '/api/v1/health#x',
    '/api/v1/health?a=1?b=2',
    '/api/v1/%00',
    'file:///etc/passwd',
  ];
  const before = await page.locator('#history [data-testid=history-run]').count();
  for (const bad of corpus) {
    const custom = page.locator('#run-custom');
    await custom.getByLabel('Path').fill(bad);
    await custom.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(page.locator('#run-custom').getByRole('alert'), bad).toContainText('Not sent');
  }
  // Hostile path parameters are encoded into one segment, and what leaves the API is refused.
  for (const bad of ['../../health', '..', 'a/b', '%2e%2e']) {
    const w = await widget(page, LIST);
    await w.getByLabel('container_id (path, required)').fill(bad);
    await w.getByRole('button', { name: 'Run', exact: true }).click();
    const after = operation(page, LIST).locator('details.run-widget');
    const status = after.getByTestId('run-status');
    // Either refused here, or sent as one harmless segment that the API rejects as an
    // invalid or unknown container id.
    if (await status.count()) {
      await expect(status, bad).toHaveText(/^(400|404)$/);
    } else {
      await expect(after.getByRole('alert'), bad).toContainText('Not sent');
    }
  }
  await page.goto('/docs');
  const history = page.locator('#history [data-testid=history-run]');
  for (const text of await history.allInnerTexts()) {
    expect(text).not.toContain('evil.example');
    expect(text).not.toContain('/rpc/');
  }
  expect(await history.count()).toBeLessThanOrEqual(before + 4);
});

test('each snippet, copied and run from a shell, gives the status the widget showed', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await signIn(page);
  const id = await container(page, 'docs-snippets');
  await page.goto('/docs');
  for (const [name, expected] of [['snap-19990101-000000', '404'], ['', '200']] as const) {
    const key = name ? RESTORE : LIST;
    const w = await widget(page, key);
    await w.getByLabel('container_id (path, required)').fill(id);
    if (name) await w.getByLabel('snapshot_name (path, required)').fill(name);
    await w.getByRole('button', { name: 'Run', exact: true }).click();
    const shown = operation(page, key).locator('details.run-widget');
    await expect(shown.getByTestId('run-status')).toHaveText(expected);
    await shown.locator('details.snippets > summary').click();
    const copy = async (kind: string) => {
      const figure = shown.locator('figure.snippet').filter({ has: page.locator(`pre[data-snippet=${kind}]`) });
      await figure.getByRole('button', { name: 'Copy' }).click();
      await expect(figure.getByRole('button', { name: 'Copied' })).toBeVisible();
      return page.evaluate(() => navigator.clipboard.readText());
    };
    const curl = shell(await copy('curl'));
    expect(curl.stdout.split('\n')[0], curl.stderr).toMatch(new RegExp(`^HTTP/1.1 ${expected} `));
    const cli = shell(await copy('cli'));
    expect(cli.stderr).toContain(`HTTP ${expected} `);
    expect(cli.status).toBe(expected === '200' ? 0 : 1);
    // The fetch and reqwest snippets carry the same request.
    for (const kind of ['fetch', 'reqwest']) {
      const code = await shown.locator(`pre[data-snippet=${kind}]`).innerText();
      expect(code).toContain(`/api/v1/containers/${id}/snapshots`);
      expect(code).toContain('SNAPLINE_TOKEN');
    }
  }
});

test('the code snippets follow the form as it is typed, before anything is sent', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  const id = await container(page, 'docs-follow');
  await page.goto('/docs');
  const w = await widget(page, CREATE);
  await w.locator('details.snippets > summary').click();
  await expect(w.getByText('The code follows the form as you type.')).toBeVisible();
  await w.getByLabel('container_id (path, required)').fill(id);
  await w.getByLabel('Body (JSON)').fill('{"alias": "typed-now"}');
  const curl = w.locator('pre[data-snippet="curl"]');
  await expect(curl).toContainText(`/api/v1/containers/${id}/snapshots`);
  await expect(curl).toContainText('typed-now');
  await expect(w.locator('pre[data-snippet="cli"]')).toContainText(id);
  await expect(w.getByTestId('run-path')).toHaveText(`/api/v1/containers/${id}/snapshots`);
  expect(await snapshotCount(page, id)).toBe(0);
  expect(errors).toEqual([]);
});

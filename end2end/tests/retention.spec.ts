import { test, expect, Page, TestInfo } from '@playwright/test';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { api, TOKEN, watchConsole, waitForHydration } from './helpers';

// Keep policies (restic's forget --keep-*) in the dashboard: set through the schedule form,
// shown on the timeline, previewed (the saved policy, and a typed one before saving), and a
// bad count refused in words. Once against the server under test (embedded backend), once
// through a `snapline serve --upstream` proxy in front of it (remote backend).

const upstream = process.env.BASE_URL ?? 'http://127.0.0.1:3000';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A proxy node in front of the server under test, on its own port and data directory. */
async function startProxy(): Promise<{ url: string; stop: () => Promise<void> }> {
  const bin = process.env.SNAPLINE_BIN;
  if (!bin) throw new Error('SNAPLINE_BIN is not set: run the browser tests with .ci/e2e.sh');
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapline-proxy-'));
  const site = path.resolve(__dirname, '..', '..', 'target', 'site');
  const log = fs.openSync(path.join(dir, 'proxy.log'), 'a');
  const child = spawn(
    bin,
    ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dir, 'data'), '--site-root', site, '--upstream', upstream],
    { stdio: ['ignore', log, log] },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break;
    const ok = await fetch(`${url}/api/v1/health`).then((r) => r.ok, () => false);
    if (ok) {
      return {
        url,
        stop: async () => {
          const ended = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          // A graceful stop waits for open connections (a page's live event stream); the
          // caller closes its pages first, and a stop that still hangs is cut short.
          const late = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await ended;
          clearTimeout(late);
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`the proxy did not start:\n${fs.readFileSync(path.join(dir, 'proxy.log'), 'utf8')}`);
}

/** Signs in on the dashboard at `base`, as a person would. */
async function signInAt(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/signin`);
  await page.getByLabel('Token', { exact: true }).fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

async function story(page: Page, base: string, label: string, testInfo: TestInfo): Promise<void> {
  const errors = watchConsole(page);
  await signInAt(page, base);
  // Made through the REST API of the server under test (the proxy acts on the same one).
  const created = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: `keep-${label}`, image: 'demo' });
  const id = created.container.id;
  await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'by-hand' });
  await page.goto(`${base}/containers/${id}`);
  await waitForHydration(page);

  // Set a schedule with a keep policy through the form.
  const schedule = page.locator('section.schedule');
  await schedule.locator('summary', { hasText: 'Set a schedule…' }).click();
  await schedule.getByLabel('When (UTC)').fill('@daily');
  await schedule.getByLabel('Keep each for').selectOption('never');
  await schedule.getByLabel('last', { exact: true }).fill('5');
  await schedule.getByLabel('daily', { exact: true }).fill('7');
  await schedule.getByLabel('weekly', { exact: true }).fill('4');
  await schedule.getByRole('button', { name: 'Save schedule' }).click();

  // Shown, and saved on the server.
  await expect(page.getByTestId('schedule-keep')).toContainText('Keep policy: last 5, daily 7, weekly 4');
  const saved = await api(page, 'GET', `/api/v1/containers/${id}/schedule`);
  expect(saved.schedule.keep).toEqual({ last: 5, daily: 7, weekly: 4 });

  // The preview of the saved policy: no scheduled snapshot yet, the one taken by hand is
  // never touched.
  const preview = page.getByTestId('retention-preview');
  await expect(preview).toContainText('What the keep policy does now');
  await expect(page.getByTestId('retention-summary')).toContainText('Policy last 5, daily 7, weekly 4: keeps 0 and deletes 0');
  await expect(page.getByTestId('preview-untouched')).toContainText('1 taken by hand or pinned');

  // The form holds the saved policy; another one is previewed before saving, and the typed
  // values stay in the form.
  await schedule.locator('summary', { hasText: 'Change the schedule or keep policy…' }).click();
  await expect(schedule.getByLabel('daily', { exact: true })).toHaveValue('7');
  await schedule.getByLabel('daily', { exact: true }).fill('2');
  await schedule.getByLabel('monthly', { exact: true }).fill('12');
  await schedule.getByRole('button', { name: 'Preview keep policy' }).click();
  await expect(preview).toContainText('Preview of the keep policy in the form (not saved)');
  await expect(page.getByTestId('retention-summary')).toContainText('Policy last 5, daily 2, weekly 4, monthly 12');
  await expect(schedule.getByLabel('daily', { exact: true })).toHaveValue('2');
  await expect(page.getByTestId('schedule-keep')).toContainText('Keep policy: last 5, daily 7, weekly 4');
  expect((await api(page, 'GET', `/api/v1/containers/${id}/schedule`)).schedule.keep).toEqual({ last: 5, daily: 7, weekly: 4 });
  await page.screenshot({ path: testInfo.outputPath(`retention-preview-${label}.png`), fullPage: true });

  // A count out of range is refused in words that name it and the range.
  await schedule.getByLabel('weekly', { exact: true }).fill('-1');
  await schedule.getByRole('button', { name: 'Preview keep policy' }).click();
  await expect(page.getByTestId('retention-preview-error')).toContainText('keep.weekly must be a whole number from 0 to 10000');

  // Saved: the timeline shows the new policy.
  await schedule.getByLabel('weekly', { exact: true }).fill('');
  await schedule.getByRole('button', { name: 'Save schedule' }).click();
  await expect(page.getByTestId('schedule-keep')).toContainText('Keep policy: last 5, daily 2, monthly 12');
  expect((await api(page, 'GET', `/api/v1/containers/${id}/schedule`)).schedule.keep).toEqual({ last: 5, daily: 2, monthly: 12 });
  expect(errors).toEqual([]);
}

test('a keep policy is set, shown and previewed in the schedule form', async ({ page }, testInfo) => {
  await story(page, upstream, 'embedded', testInfo);
});

test('the same through a proxy node', async ({ page }, testInfo) => {
  const proxy = await startProxy();
  try {
    await story(page, proxy.url, 'proxy', testInfo);
  } finally {
    // Its live event stream would keep the proxy's graceful stop waiting.
    await page.goto('about:blank');
    await proxy.stop();
  }
});

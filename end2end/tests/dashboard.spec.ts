import { test, expect } from '@playwright/test';
import { signIn, watchConsole, waitForHydration } from './helpers';

test('the containers page hydrates and a form writes SQLite through a server function in place', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await signIn(page);
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Containers' })).toBeVisible();
  await waitForHydration(page);
  // A marker on window survives only if the form is handled in place by the wasm,
  // not by a plain form post and a new page.
  await page.evaluate(() => ((window as any).__sameDocument = true));

  await page.getByLabel('Name', { exact: true }).fill('in-place');
  await page.getByRole('button', { name: 'Create container' }).click();
  await expect(page.locator('.container-row', { hasText: 'in-place' })).toBeVisible();
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  await page.screenshot({ path: testInfo.outputPath('dashboard-containers.png'), fullPage: true });

  // It is in SQLite: a fresh server render lists it.
  await page.reload();
  await expect(page.locator('.container-row', { hasText: 'in-place' })).toBeVisible();
  await waitForHydration(page);
  expect(errors).toEqual([]);
});

test('the first start shows the demo project with a living timeline', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await signIn(page);
  const row = page.locator('.container-row', { hasText: 'demo-app' });
  await expect(row).toBeVisible();
  await expect(row).toContainText('demo');
  await row.getByRole('link', { name: 'demo-app' }).click();
  await waitForHydration(page);
  for (const alias of ['fresh-install', 'before-migration', 'after-migration']) {
    await expect(page.locator('.snapshot-card h3', { hasText: alias })).toBeVisible();
  }
  await expect(page.getByTestId('storage-summary')).toContainText('stored by 3 snapshots');
  await page.screenshot({ path: testInfo.outputPath('demo-timeline.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('the API docs page is server-rendered from OpenAPI and loads no wasm', async ({ page }) => {
  const errors = watchConsole(page);
  const wasm: string[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('.wasm')) wasm.push(r.url());
  });
  await page.goto('/docs');
  await expect(page.getByRole('heading', { level: 1, name: 'API docs' })).toBeVisible();
  await expect(page.locator('.endpoint-path', { hasText: '/api/v1/health' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'API docs' })).toHaveAttribute('aria-current', 'page');
  expect(wasm).toEqual([]);

  // Following the link from a hydrated page is a full page load of the server's page.
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API docs' }).click();
  await expect(page).toHaveURL(/\/docs$/);
  await expect(page.locator('.endpoint-path', { hasText: '/api/v1/health' })).toBeVisible();
  expect(errors).toEqual([]);
});

test('readable on a phone: no horizontal scrolling, navigation reachable', async ({ browser }, testInfo) => {
  const context = await browser.newContext({
    viewport: { width: 375, height: 740 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const page = await context.newPage();
  const errors = watchConsole(page);
  await signIn(page);
  for (const path of ['/', '/docs', '/system']) {
    await page.goto(path);
    if (path === '/') await waitForHydration(page);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow, `horizontal overflow on ${path}`).toBeLessThanOrEqual(0);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav.getByRole('link', { name: 'Containers' })).toBeVisible();
    await expect(nav.getByRole('link', { name: 'API docs' })).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath(`phone${path.replace(/\//g, '-')}.png`), fullPage: true });
  }
  expect(errors).toEqual([]);
  await context.close();
});

for (const javaScriptEnabled of [true, false]) {
  test(`the system check is a plain form (JavaScript ${javaScriptEnabled ? 'on' : 'off'})`, async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    // Signing in is a plain form too.
    await signIn(page);
    await page.goto('/system');
    const before = Number(await page.getByTestId('check-count').getAttribute('data-count'));
    await page.getByRole('button', { name: 'Run system check' }).click();
    await page.waitForURL((url) => url.pathname === '/system');
    const row = page.locator(`.check-list li[data-check-id="${before + 1}"]`);
    await expect(row).toBeVisible();
    await expect(row).toContainText('Database write and read-back');
    await expect(page.getByTestId('check-count')).toHaveAttribute('data-count', String(before + 1));
    await context.close();
  });
}

test('unknown pages get a designed 404', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});

test('a container made with limits runs, pauses and resumes from its row', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  await page.goto('/');
  await waitForHydration(page);
  await page.getByLabel('Name', { exact: true }).fill('limited');
  await page.getByText('Limits (optional)').click();
  await page.getByLabel('Memory (MiB)').fill('256');
  await page.getByLabel('Processes').fill('128');
  await page.getByRole('button', { name: 'Create container' }).click();
  const row = page.locator('.container-row', { hasText: 'limited' });
  await expect(row).toBeVisible();

  await row.getByRole('button', { name: 'Start' }).click();
  await expect(row.locator('[data-status]')).toHaveAttribute('data-status', 'running');
  await row.getByRole('button', { name: 'Pause' }).click();
  await expect(row.locator('[data-status]')).toHaveAttribute('data-status', 'paused');
  await row.getByRole('button', { name: 'Resume' }).click();
  await expect(row.locator('[data-status]')).toHaveAttribute('data-status', 'running');

  // The timeline says what it may use.
  await row.getByRole('link', { name: 'limited' }).click();
  await expect(page.getByTestId('limits')).toHaveText(/^Limits: 256 MiB memory · 128 processes · 1 CPU · on server [0-9a-f]{24}$/);
  await page.getByRole('button', { name: 'Stop container' }).click();
  await expect(page.locator('h1 [data-status]')).toHaveAttribute('data-status', 'stopped');

  // Its server is listed on the System page, active, with the containers it holds.
  const server = (await page.getByTestId('server').innerText()).trim();
  await page.getByTestId('server').click();
  await expect(page).toHaveURL(/\/system#servers$/);
  const node = page.locator(`#servers li[data-server="${server}"]`);
  await expect(node).toHaveAttribute('data-status', 'active');
  await expect(node).toContainText(/\d+ containers? · store .* free of .* · Snapline /);
  await expect(page.locator('#servers li').first()).toHaveAttribute('data-server', server);
  expect(errors).toEqual([]);
});

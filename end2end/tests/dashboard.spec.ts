import { test, expect } from '@playwright/test';
import { signIn, watchConsole, waitForHydration } from './helpers';

test('the dashboard hydrates and a click writes SQLite through a server function', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await signIn(page);
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Containers' })).toBeVisible();
  await waitForHydration(page);

  const count = page.getByTestId('check-count');
  const before = Number(await count.getAttribute('data-count'));
  // A marker on window survives only if the click is handled in place by the wasm,
  // not by a plain form post and a new page.
  await page.evaluate(() => ((window as any).__sameDocument = true));

  await page.getByRole('button', { name: 'Run system check' }).click();

  const expected = before + 1;
  const result = page.getByTestId('check-result').locator(`[data-check-id="${expected}"]`);
  await expect(result).toContainText(`Check #${expected}`);
  await expect(result).toContainText('Database write and read-back');
  await expect(count).toHaveAttribute('data-count', String(expected));
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);

  await page.screenshot({ path: testInfo.outputPath('dashboard-after-check.png'), fullPage: true });

  // The row is in SQLite: a fresh server render lists it.
  await page.reload();
  await expect(page.locator(`.check-list li[data-check-id="${expected}"]`)).toBeVisible();
  await waitForHydration(page);

  expect(errors).toEqual([]);
});

test('navigation to the API docs happens in place and lists the API from OpenAPI', async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto('/');
  await waitForHydration(page);
  await page.evaluate(() => ((window as any).__sameDocument = true));

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API docs' }).click();
  await expect(page).toHaveURL(/\/docs$/);
  await expect(page.getByRole('heading', { level: 1, name: 'API docs' })).toBeVisible();
  await expect(page.locator('.endpoint-path', { hasText: '/api/v1/health' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'API docs' })).toHaveAttribute('aria-current', 'page');
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);

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
  for (const path of ['/', '/docs']) {
    await page.goto(path);
    await waitForHydration(page);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow, `horizontal overflow on ${path}`).toBeLessThanOrEqual(0);
    await expect(page.getByRole('link', { name: 'Containers' })).toBeVisible();
    await expect(page.getByRole('link', { name: 'API docs' })).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath(`phone${path.replace(/\//g, '-')}.png`), fullPage: true });
  }
  expect(errors).toEqual([]);
  await context.close();
});

test('without JavaScript the system check still works as a plain form', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  // Signing in is a plain form too.
  await signIn(page);
  await page.goto('/');
  const before = Number(await page.getByTestId('check-count').getAttribute('data-count'));
  await page.getByRole('button', { name: 'Run system check' }).click();
  await page.waitForURL((url) => url.pathname === '/');
  await expect(page.locator(`.check-list li[data-check-id="${before + 1}"]`)).toBeVisible();
  await context.close();
});

test('unknown pages get a designed 404', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});

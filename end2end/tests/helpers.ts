import { expect, Page } from '@playwright/test';

/** Collects browser console errors and uncaught page errors; tests assert it stays empty. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  return errors;
}

/** Waits until the wasm has hydrated the server-rendered page. */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator('.frame')).toHaveAttribute('data-hydrated', 'true');
}

/** Waits for the page to be whole: hydrated, or (the server-only pages, which load no
 * wasm) loaded. */
export async function settled(page: Page): Promise<void> {
  await page.waitForLoadState('load');
  const hydrates = await page.locator('link[rel="modulepreload"], script[type="module"]').count();
  if (hydrates > 0) await waitForHydration(page);
}

/** The admin token of the server under test (set by .ci/e2e.sh). */
export const TOKEN = process.env.SNAPLINE_TOKEN ?? '';

/** Signs in through the sign-in form, as a person would. */
export async function signIn(page: Page): Promise<void> {
  await page.goto('/signin');
  await page.getByLabel('Token', { exact: true }).fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

/** Calls the REST API with the admin token; returns the envelope's data. */
export async function api(page: Page, method: string, path: string, body?: unknown): Promise<any> {
  const response = await page.request.fetch(path, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    data: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  expect(response.status(), JSON.stringify(json)).toBe(200);
  return json.data;
}

import { test, expect } from '@playwright/test';
import { api, signIn, TOKEN, watchConsole, waitForHydration } from './helpers';

// Forms as a person uses them: a form that did its work is cleared for the next one, and a
// refusal says what is wrong in its own words.

test('a created container clears the form, and a taken name says so', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  await page.goto('/');
  await waitForHydration(page);
  const name = page.getByLabel('Name', { exact: true });
  await name.fill('form-once');
  await page.getByRole('button', { name: 'Create container' }).click();
  await expect(page.getByText('Created form-once.')).toBeVisible();
  await expect(name).toHaveValue('');

  await name.fill('form-once');
  await page.getByRole('button', { name: 'Create container' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('Conflict');
  await expect(alert).toContainText('already has a container named');
  await expect(alert).not.toContainText('operation is running');
  // The refused call itself is the only console line (the browser logs every 409).
  expect(errors.filter((e) => !e.includes('409'))).toEqual([]);
});

test('a snapshot taken clears its alias, so a second click does not reuse it', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  const made = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'alias-once', image: 'demo' });
  await page.goto(`/containers/${made.container.id}`);
  await waitForHydration(page);
  const alias = page.getByLabel('Alias', { exact: true });
  await alias.fill('before-change');
  await page.getByRole('button', { name: 'Take snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText(/Snapshot before-change \(snap-\S+\) taken\./);
  await expect(alias).toHaveValue('');
  await page.getByRole('button', { name: 'Take snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText(/Snapshot snap-\S+ taken\./);
  const list = await api(page, 'GET', `/api/v1/containers/${made.container.id}/snapshots`);
  expect(list.snapshots.filter((s: any) => s.alias === 'before-change')).toHaveLength(1);
  expect(errors).toEqual([]);
});

test('signing in on the page you opened shows that page, signed in', async ({ page }) => {
  const errors = watchConsole(page);
  const made = await fetch(`${process.env.BASE_URL ?? 'http://127.0.0.1:3000'}/api/v1/containers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ project_id: 'default', name: 'signin-here', image: 'demo' }),
  }).then((r) => r.json());
  for (const path of ['/', `/containers/${made.data.container.id}`]) {
    await page.context().clearCookies();
    await page.goto(path);
    await waitForHydration(page);
    await page.getByLabel('Token', { exact: true }).fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
    expect(new URL(page.url()).pathname).toBe(path);
  }
  await expect(page.getByRole('heading', { level: 1 })).toContainText('signin-here');
  expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
});

test('signing out ends the session: a cookie copied before is refused after', async ({ page, browser }) => {
  await signIn(page);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'snapline_session');
  expect(session, 'no session cookie').toBeTruthy();
  // The cookie is a session id, not the API token.
  expect(session!.value).not.toContain(TOKEN);
  expect(session!.value.startsWith('ses_')).toBe(true);

  // A second browser with the copied cookie is signed in, until the first signs out.
  const copy = await browser.newContext();
  await copy.addCookies([session!]);
  const other = await copy.newPage();
  await other.goto('/');
  await expect(other.getByRole('button', { name: 'Sign out' })).toBeVisible();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await other.goto('/');
  await expect(other.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(other.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
  await copy.close();
});

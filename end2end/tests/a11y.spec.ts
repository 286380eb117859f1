import { test, expect, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { api, settled, signIn, watchConsole } from './helpers';

// Every page passes an accessibility checker (axe-core) with no serious or critical
// finding, and only the link to the page itself says it is the current page.

async function check(page: Page, what: string) {
  // Every disclosure open (schemas, code, answers, forms): what a reader ends up seeing.
  await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)));
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  expect(bad, `${what}: ${bad.join('\n')}`).toEqual([]);

  // aria-current="page": on at most one link, and only on a link to this very address.
  const current = await page.evaluate(() =>
    Array.from(document.querySelectorAll('[aria-current="page"]')).map((el) => ({
      tag: el.tagName.toLowerCase(),
      href: el instanceof HTMLAnchorElement ? new URL(el.href).pathname + new URL(el.href).search : null,
    })),
  );
  const here = await page.evaluate(() => location.pathname + location.search);
  const links = current.filter((c) => c.tag === 'a');
  expect(links.length, `${what}: links marked current: ${JSON.stringify(current)}`).toBeLessThanOrEqual(1);
  for (const l of links) {
    expect(l.href, `${what}: a link marked current goes elsewhere`).toBe(here);
  }
}

test('every page passes axe-core, and aria-current marks only the page itself', async ({ page }) => {
  test.setTimeout(180_000);
  const errors = watchConsole(page);
  // Signed out: the sign-in page.
  await page.goto('/signin');
  await settled(page);
  await check(page, 'sign-in');

  await signIn(page);
  const made = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'a11y', image: 'demo' });
  const id = made.container.id;
  await api(page, 'POST', `/api/v1/containers/${id}/exec`, { command: ['sh', '-c', 'mkdir -p /srv/one/two && echo x > /srv/one/two/f.txt'] });
  const taken = await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'checked' });
  const name: string = taken.snapshot.name;
  await api(page, 'POST', `/api/v1/containers/${id}/exec`, { command: ['sh', '-c', 'echo y > /srv/one/two/f.txt'] });
  await api(page, 'PUT', `/api/v1/containers/${id}/schedule`, { schedule: '@daily', keep: { last: 3 } });

  const pages: [string, string][] = [
    ['containers', '/'],
    ['timeline', `/containers/${id}`],
    ['files at the root', `/containers/${id}/snapshots/${name}/files`],
    ['files in a folder', `/containers/${id}/snapshots/${name}/files?path=/srv/one`],
    ['compare', `/containers/${id}/diff?from=${name}&against=live`],
    ['restore page', `/containers/${id}/snapshots/${name}/restore?path=/srv/one/two/f.txt`],
    ['system', '/system'],
    ['docs', '/docs'],
    ['not found', '/no/such/page'],
    ['unknown container', '/containers/ffffffffffffffffffffffff'],
  ];
  for (const [what, path] of pages) {
    await page.goto(path);
    await settled(page);
    await check(page, what);
  }
  // In the file browser, the folder links are not "current"; the folder shown is, as text.
  await page.goto(`/containers/${id}/snapshots/${name}/files?path=/srv/one`);
  await expect(page.locator('.path-crumbs [aria-current="page"]')).toHaveText('one');
  await expect(page.locator('table.files a[aria-current]')).toHaveCount(0);
  expect(errors.filter((e) => !e.includes('404'))).toEqual([]);
});

import { test, expect, Page } from '@playwright/test';
import { api, settled, signIn, watchConsole } from './helpers';

// At phone width (390 px) nothing scrolls sideways: every page, and every panel opened on
// it (disclosures, confirmations, schemas, code), fits; long code and schemas scroll
// inside their own box.

test.use({ viewport: { width: 390, height: 844 } });

/** How much wider than the viewport the document is (0 when it fits). */
async function overflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** What sticks out, for the failure message. */
async function culprits(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    // Inside a box that scrolls (or clips) sideways, sticking out is fine.
    const contained = (el: Element) => {
      for (let a = el.parentElement; a; a = a.parentElement) {
        const o = getComputedStyle(a).overflowX;
        if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
      }
      return false;
    };
    for (const el of Array.from(document.querySelectorAll('body *'))) {
      const r = el.getBoundingClientRect();
      if (r.right > window.innerWidth + 1 && r.width > 0 && !contained(el)) {
        const cls = (el.getAttribute('class') ?? '').split(' ').slice(0, 2).join('.');
        out.push(`${el.tagName.toLowerCase()}${cls ? '.' + cls : ''} right=${Math.round(r.right)}`);
      }
    }
    return out.slice(0, 8);
  });
}

async function fits(page: Page, what: string) {
  const over = await overflow(page);
  expect(over, `${what} is ${over}px too wide: ${(await culprits(page)).join(', ')}`).toBeLessThanOrEqual(0);
}

/** Opens every disclosure on the page at once (schemas, code, forms, answers), the way a
 * curious reader would end up, and checks the width then; then each kind by a click, so a
 * disclosure opened by hand is checked too. */
async function openEveryDisclosure(page: Page, what: string) {
  const first = page.locator('details:not([open]) > summary:visible').first();
  if ((await first.count()) > 0) {
    const label = (await first.innerText()).trim();
    await first.click();
    await fits(page, `${what}, "${label}" open`);
  }
  const n = await page.evaluate(() => {
    const all = Array.from(document.querySelectorAll('details'));
    all.forEach((d) => (d.open = true));
    return all.length;
  });
  await fits(page, `${what}, all ${n} disclosures open`);
}

/** Opens each confirmation (popover) on the page in turn. */
async function openEveryConfirmation(page: Page, what: string) {
  const openers = page.locator('button[popovertarget]:not(.confirm-cancel)');
  const n = await openers.count();
  for (let i = 0; i < n; i++) {
    const b = openers.nth(i);
    if (!(await b.isVisible())) continue;
    const label = (await b.innerText()).trim();
    await b.click();
    await fits(page, `${what}, "${label}" open`);
    await page.keyboard.press('Escape');
  }
}

test('every page and every opened panel fits a 390 px phone', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const errors = watchConsole(page);
  await signIn(page);
  const made = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'phone-with-a-rather-long-container-name', image: 'demo' });
  const id = made.container.id;
  await api(page, 'POST', `/api/v1/containers/${id}/exec`, {
    command: ['sh', '-c', 'mkdir -p /srv/a-folder-with-a-long-name-for-phones && echo x > /srv/a-folder-with-a-long-name-for-phones/some-file-with-a-long-name.conf'],
  });
  const first = await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'an-alias-that-is-long-enough-to-wrap-on-a-phone', expiry: 30 });
  await api(page, 'POST', `/api/v1/containers/${id}/exec`, { command: ['sh', '-c', 'echo y > /srv/a-folder-with-a-long-name-for-phones/some-file-with-a-long-name.conf; echo new > /srv/added-later.txt'] });
  await api(page, 'PUT', `/api/v1/containers/${id}/schedule`, {
    schedule: '0 3 * * *', expiry: 7, keep: { last: 5, hourly: 24, daily: 7, weekly: 4, monthly: 12 },
  });
  const name: string = first.snapshot.name;

  const pages: [string, string][] = [
    ['containers', '/'],
    ['timeline', `/containers/${id}`],
    ['files', `/containers/${id}/snapshots/${name}/files?path=/srv/a-folder-with-a-long-name-for-phones`],
    ['compare', `/containers/${id}/diff?from=${name}&against=live`],
    ['restore page', `/containers/${id}/snapshots/${name}/restore?path=/srv/a-folder-with-a-long-name-for-phones`],
    ['system', '/system'],
    ['docs', '/docs'],
  ];
  for (const [what, path] of pages) {
    await page.goto(path);
    await settled(page);
    await fits(page, what);
    await openEveryConfirmation(page, what);
    await openEveryDisclosure(page, what);
    await page.screenshot({ path: testInfo.outputPath(`phone-${what.replace(' ', '-')}.png`), fullPage: true });
  }
  expect(errors).toEqual([]);
});

import { test, expect, Page } from '@playwright/test';
import { api, signIn, watchConsole, waitForHydration } from './helpers';

/** The card of the snapshot whose title is exactly `title`. */
function card(page: Page, title: string) {
  return page.locator('.snapshot-card').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
}

async function exec(page: Page, id: string, script: string): Promise<any> {
  return api(page, 'POST', `/api/v1/containers/${id}/exec`, { command: ['sh', '-c', script] });
}

/** A container with a config and a work file, snapshotted as `good`, then both changed. */
async function brokenContainer(page: Page, name: string): Promise<string> {
  const made = await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name, image: 'demo' });
  const id = made.container.id;
  await exec(page, id, 'mkdir -p /etc/app && echo "port: 80" > /etc/app/config.yml && echo v1 > /root/work');
  await api(page, 'POST', `/api/v1/containers/${id}/snapshots`, { alias: 'good' });
  await exec(page, id, 'echo "port: 9999" > /etc/app/config.yml && echo extra > /etc/app/added && echo v2 > /root/work');
  return id;
}

test('restore one file from the Files page, then undo it', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await signIn(page);
  const id = await brokenContainer(page, 'files-restore');
  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  await card(page, 'good').getByRole('link', { name: 'Browse files' }).click();
  await page.getByRole('link', { name: 'etc/' }).click();
  await page.getByRole('link', { name: 'app/' }).click();
  await page.getByRole('link', { name: 'Restore config.yml…' }).click();

  // The confirmation lists what will change, and only under the path.
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Restore /etc/app/config.yml');
  const changes = page.getByTestId('restore-changes');
  await expect(changes).toContainText('/etc/app/config.yml');
  await expect(changes).toContainText('rewritten as in the snapshot');
  await expect(changes).not.toContainText('/root/work');
  await expect(page.getByLabel(/Take a safety snapshot first/)).toBeChecked();
  await page.screenshot({ path: testInfo.outputPath('restore-path-confirm.png'), fullPage: true });
  await page.getByRole('button', { name: 'Restore /etc/app/config.yml' }).click();

  await expect(page.getByTestId('outcome')).toContainText('Restored /etc/app/config.yml from good');
  await expect(page.getByTestId('restore-changes')).toContainText('nothing to change');
  // Nothing left to change: no restore button, only the way back.
  await expect(page.getByRole('button', { name: 'Restore /etc/app/config.yml' })).toBeHidden();
  await expect(page.getByRole('link', { name: 'Back', exact: true })).toBeVisible();
  expect((await exec(page, id, 'cat /etc/app/config.yml /root/work')).stdout).toBe('port: 80\nv2\n');
  // The folder's other change was not part of it.
  expect((await exec(page, id, 'cat /etc/app/added')).stdout).toBe('extra\n');

  await page.getByRole('button', { name: 'Undo' }).click();
  await expect(page.getByTestId('outcome')).toContainText('Restored /etc/app/config.yml from');
  expect((await exec(page, id, 'cat /etc/app/config.yml')).stdout).toBe('port: 9999\n');
  expect(errors).toEqual([]);
});

test('restore a folder from a comparison with the live files', async ({ page }) => {
  await signIn(page);
  const id = await brokenContainer(page, 'diff-restore');
  const snaps = await api(page, 'GET', `/api/v1/containers/${id}/snapshots`);
  const name = snaps.snapshots[0].name;
  await page.goto(`/containers/${id}/diff?from=${name}&against=live`);
  await page.getByRole('link', { name: 'Restore /etc/app/config.yml…' }).click();
  await expect(page.getByTestId('restore-changes')).toContainText('rewritten as in the snapshot');
  // Cancel goes back to the comparison it came from.
  await page.getByRole('link', { name: 'Cancel' }).click();
  await expect(page).toHaveURL(new RegExp(`/containers/${id}/diff\\?from=${name}&against=live$`));
  // An added file's row restores its folder: the file is listed as one the restore deletes.
  await expect(page.getByTestId('diff')).toContainText('/etc/app/added');
  await page.getByRole('link', { name: 'Restore folder /etc/app, which removes /etc/app/added…' }).click();
  const changes = page.getByTestId('restore-changes');
  await expect(changes).toContainText('/etc/app/added');
  await expect(changes).toContainText('deleted (added since the snapshot)');
  await page.getByRole('button', { name: 'Restore /etc/app' }).click();
  await expect(page.getByTestId('outcome')).toContainText('Restored /etc/app from good');
  expect((await exec(page, id, 'ls /etc/app; cat /root/work')).stdout).toBe('config.yml\nv2\n');

  // A path the snapshot lacks: the page says so in words, with the way back and no button.
  await page.goto(`/containers/${id}/snapshots/${name}/restore?path=/nope`);
  await expect(page.getByRole('alert')).toContainText('has nothing at /nope');
  await expect(page.getByRole('button', { name: 'Restore /nope' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Back to the timeline' })).toBeVisible();
});

test('publish a snapshot as an image and fork it from its card', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  const id = await brokenContainer(page, 'tools');
  await page.goto(`/containers/${id}`);
  await waitForHydration(page);

  const good = card(page, 'good');
  await good.getByRole('button', { name: 'Publish…' }).click();
  await good.getByLabel('Image name').fill('tools-template');
  await good.getByRole('button', { name: 'Publish as an image' }).click();
  await expect(page.getByTestId('outcome')).toContainText('Published image tools-template.');
  const images = await api(page, 'GET', '/api/v1/images');
  expect(images.images.map((i: any) => i.name)).toContain('tools-template');

  await good.getByRole('button', { name: 'Copy…' }).click();
  await good.getByLabel('New container').fill('fk');
  await good.getByLabel('How many').fill('3');
  await good.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect(page.getByTestId('outcome')).toContainText('Copied into 3 containers: fk-1, fk-2, fk-3.');
  const list = await api(page, 'GET', '/api/v1/containers');
  for (const n of ['fk-1', 'fk-2', 'fk-3']) {
    const c = list.containers.find((c: any) => c.name === n);
    expect((await exec(page, c.id, 'cat /etc/app/config.yml')).stdout).toBe('port: 80\n');
  }
  // A fork whose names are all taken says why.
  await good.getByRole('button', { name: 'Copy…' }).click();
  await good.getByLabel('New container').fill('fk');
  await good.getByLabel('How many').fill('2');
  await good.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect(page.getByTestId('outcome')).toContainText('fk-1');
  expect(errors).toEqual([]);
});

test('without JavaScript, a fork with some names taken says what it made and why the others failed', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page);
  const id = await brokenContainer(page, 'plain-fork');
  // plain-2 is taken, so one of the three copies fails.
  await api(page, 'POST', '/api/v1/containers', { project_id: 'default', name: 'plain-2', image: 'demo' });
  await page.goto(`/containers/${id}`);
  const good = card(page, 'good');
  await good.getByRole('button', { name: 'Copy…' }).click();
  await good.getByLabel('New container').fill('plain');
  await good.getByLabel('How many').fill('3');
  await good.getByRole('button', { name: 'Copy', exact: true }).click();
  await page.waitForURL((url) => url.pathname === `/containers/${id}` && url.searchParams.has('done'));
  const outcome = page.getByTestId('outcome');
  await expect(outcome).toContainText('Copied into 2 containers: plain-1, plain-3. 1 failed, listed below.');
  await expect(outcome.locator('code')).toContainText('plain-2: ');
  await expect(outcome.locator('code')).toContainText('already has a container named');
  await context.close();
});

test('without JavaScript, publish and verify come back saying what they did', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page);
  const id = await brokenContainer(page, 'plain-publish');
  await page.goto(`/containers/${id}`);
  const good = card(page, 'good');
  await good.getByRole('button', { name: 'Publish…' }).click();
  await good.getByLabel('Image name').fill('plain-image');
  await good.getByRole('button', { name: 'Publish as an image' }).click();
  await page.waitForURL((url) => url.pathname === `/containers/${id}` && url.searchParams.has('done'));
  await expect(page.getByTestId('outcome')).toContainText('Published image plain-image.');

  await card(page, 'good').getByRole('button', { name: 'Verify…' }).click();
  await card(page, 'good').getByLabel(/Re-read and re-hash/).check();
  await card(page, 'good').getByRole('button', { name: 'Verify snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText('verified deeply: no damage');
  // The outcome is the page's own: the same address with its signature changed shows none.
  const url = new URL(page.url());
  url.searchParams.set('sig', '0'.repeat(64));
  await page.goto(url.toString());
  await expect(page.getByTestId('outcome')).not.toContainText('verified');
  await context.close();
});

test('the restore confirmation says a running container will be restarted', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  const id = await brokenContainer(page, 'restart-said');
  await page.goto(`/containers/${id}`);
  await waitForHydration(page);
  const good = card(page, 'good');
  const restore = good.getByRole('dialog', { name: /^Restore snapshot/ });
  await good.getByRole('button', { name: 'Restore…' }).click();
  await expect(restore).toContainText('will be lost.');
  await expect(restore).not.toContainText('will be stopped');
  await api(page, 'POST', `/api/v1/containers/${id}/start`);
  await page.reload();
  await waitForHydration(page);
  await good.getByRole('button', { name: 'Restore…' }).click();
  await expect(restore).toContainText('The container is running: it will be stopped, and started again once the files are restored.');
  await api(page, 'POST', `/api/v1/containers/${id}/stop`);
  expect(errors).toEqual([]);
});

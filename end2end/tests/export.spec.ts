import { test, expect, Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { api, signIn, watchConsole, waitForHydration } from './helpers';

/** The card of the snapshot whose title is exactly `title`. */
function card(page: Page, title: string) {
  return page.locator('.snapshot-card').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
}

/** A number field of a tar header: octal text (NUL- or space-terminated). */
function octal(block: Buffer, at: number, len: number): number {
  const text = block.subarray(at, at + len).toString('latin1').replace(/[\0 ].*$/s, '');
  return text === '' ? 0 : parseInt(text, 8);
}

/**
 * The regular files of a tar archive, by path: a small reader of what the export writes
 * (ustar headers, pax `path` records), enough to find a file and its bytes.
 */
function tarFiles(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let at = 0;
  let paxPath: string | undefined;
  while (at + 512 <= tar.length) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156]);
    const data = tar.subarray(at + 512, at + 512 + size);
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      paxPath = m ? m[1] : undefined;
    } else {
      if (type === '0' || type === '\0') files.set(paxPath ?? name, Buffer.from(data));
      paxPath = undefined;
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

test('export a snapshot as a tar from its card and find a file in it', async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page);
  // (Not named like another spec's container: they find theirs by the text of its row.)
  const { container } = await api(page, 'POST', '/api/v1/containers', {
    project_id: 'default',
    name: 'tar-export',
    image: 'demo',
  });
  await api(page, 'POST', `/api/v1/containers/${container.id}/exec`, {
    command: ['sh', '-c', 'echo kept in the archive > /root/exported.txt'],
  });

  // Take the snapshot on the timeline, as a person would.
  await page.goto(`/containers/${container.id}`);
  await waitForHydration(page);
  await page.getByLabel('Alias', { exact: true }).fill('to-export');
  await page.getByRole('button', { name: 'Take snapshot' }).click();
  await expect(page.getByTestId('outcome')).toContainText(/Snapshot to-export \(snap-\S+\) taken\./);
  const snapshotCard = card(page, 'to-export');
  await expect(snapshotCard).toBeVisible();
  const name = await snapshotCard.getAttribute('data-snapshot');
  expect(name).toMatch(/^snap-\d{8}-\d{6}/);

  // Its export control downloads `<container>-<snapshot>.tar`.
  const downloaded = page.waitForEvent('download');
  await snapshotCard.getByRole('link', { name: /as a tar archive/ }).click();
  const download = await downloaded;
  expect(download.suggestedFilename()).toBe(`tar-export-${name}.tar`);
  expect(await download.failure()).toBeNull();
  const tar = await readFile((await download.path())!);
  expect(tar.length % 512).toBe(0);
  const files = tarFiles(tar);
  expect(files.get('root/exported.txt')?.toString()).toBe('kept in the archive\n');
  // The demo image's files are there too: the whole root, not only what changed.
  expect([...files.keys()].some((p) => p.startsWith('bin/'))).toBe(true);

  // The Files page offers the same export.
  await page.goto(`/containers/${container.id}/snapshots/${name}/files`);
  const again = page.waitForEvent('download');
  await page.getByRole('link', { name: /as a tar archive/ }).click();
  expect((await again).suggestedFilename()).toBe(`tar-export-${name}.tar`);

  expect(errors).toEqual([]);
});

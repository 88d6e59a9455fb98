import { open } from 'node:fs/promises';

/**
 * Flushes a folder's entries, so renames and removals in it so far survive a power loss before the
 * changes that depend on them (a kill needs none of this: the kernel has them either way). Best
 * effort, as not every platform can open a folder (Windows).
 */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => null);
  if (!fh) return;
  await fh.sync().catch(() => undefined);
  await fh.close().catch(() => undefined);
}

import { constants } from 'node:fs';
import { copyFile, link, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { stageChunks, writeChunksAtomic } from './atomic-write.js';
import { errnoOf, fsError } from './fs-error.js';
import { syncDir } from './sync-dir.js';
import { tempPathFor } from './temp-name.js';

type Chunks = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface LinkedFile {
  /** Where the file belongs (its usual name): inside the main file's folder. */
  target: string;
  chunks: Chunks;
}

export interface LinkedFiles {
  /** The main file (e.g. the .onnx), which names the linked files. */
  main: string;
  bytes: number;
  /** The linked files, in the order given; `path` is the name the main file references. */
  files: ReadonlyArray<{ path: string; bytes: number }>;
}

/**
 * Writes a main file that references other files by name (a model and its external data) so that a
 * kill at any point leaves the old set or the complete new one, never the old main file reading new
 * data: renaming two files cannot be one atomic step, so the new main file is committed referencing
 * the linked files under fresh names, which nothing else uses.
 *
 * 1. The linked files and the main file (referencing their usual names) are written complete and
 *    flushed into a stage folder beside the main file, and `check` (if any) sees them there.
 * 2. The linked files move beside their targets under fresh names (`.<name>.<pid>.<random>.new`).
 * 3. The commit: a main file referencing the fresh names is renamed over the old one. Before this
 *    the old set is untouched; after it the new set is complete.
 * 4. Each fresh file gets its usual name as well, through a hard link (a copy where the file system
 *    has none) renamed over the old file, which only the old main file used; then the staged main
 *    file, referencing the usual names, is renamed over the main file, and the fresh names go.
 *
 * Tools that find linked files by convention rather than by the name in the main file (transformers.js
 * fetches `<model>.onnx_data`) thus find the usual names after every completed write; a kill inside
 * step 4 leaves the new set under the fresh names until the next write. Stopping after step 3 (or
 * alternating between two names) would save a link and a rewrite of the small main file, but would
 * leave the data under a name those tools do not look for after every replacing write, not only
 * after a kill. When step 4 cannot finish
 * (e.g. no space for the copy), the result names the fresh files, which hold the data from then on.
 * `encodeMain` gets the linked files' paths relative to the main file's folder, with `/` separators.
 * Errors before the commit leave the old files as they were and remove everything written.
 */
export async function writeLinkedFiles(
  main: string,
  linked: readonly LinkedFile[],
  encodeMain: (names: readonly string[]) => Chunks,
  check?: (staged: LinkedFiles) => Promise<void>,
): Promise<LinkedFiles> {
  const abs = path.resolve(main);
  const dir = path.dirname(abs);
  const targets = linked.map((f) => path.resolve(f.target));
  const names = (paths: readonly string[]): string[] => paths.map((p) => path.relative(dir, p).split(path.sep).join('/'));
  for (const t of targets) {
    const rel = path.relative(dir, t);
    if (t === abs || rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `cannot write ${t} with ${abs}: a linked file must be another file inside the main file's folder`,
      );
    }
    if ((await stat(t).catch(() => null))?.isDirectory()) {
      throw new ShrinkError('IO', `cannot write ${t}: it is a folder; expected a file path`);
    }
  }
  const stage = tempPathFor(abs, 'stage');
  await mkdir(stage).catch((e: unknown) => {
    const errno = errnoOf(e);
    if (errno === 'ENOENT' || errno === 'ENOTDIR') {
      throw new ShrinkError('IO', `cannot write ${abs}: folder ${dir} does not exist; create it first or choose another output path`, {
        cause: e,
      });
    }
    throw fsError(e, 'create folder', stage);
  });
  const fresh: string[] = [];
  let committed = false;
  try {
    // The targets' folders first (a location may name a subfolder): a failure here wastes no writing.
    for (const t of targets) {
      if (path.dirname(t) === dir) continue;
      await mkdir(path.dirname(t), { recursive: true }).catch((e: unknown) => {
        throw fsError(e, 'create folder for', t);
      });
    }
    const staged: Array<{ path: string; bytes: number }> = [];
    for (const [i, f] of linked.entries()) {
      const p = path.join(stage, path.relative(dir, targets[i]!));
      if (path.dirname(p) !== stage) {
        await mkdir(path.dirname(p), { recursive: true }).catch((e: unknown) => {
          throw fsError(e, 'create folder for', p);
        });
      }
      staged.push({ path: p, bytes: await writeChunksAtomic(p, f.chunks) });
    }
    const stagedMain = path.join(stage, path.basename(abs));
    const bytes = await writeChunksAtomic(stagedMain, encodeMain(names(targets)));
    if (check) await check({ main: stagedMain, bytes, files: staged });

    for (const [i, t] of targets.entries()) {
      const f = tempPathFor(t, 'new');
      await rename(staged[i]!.path, f).catch((e: unknown) => {
        throw fsError(e, 'write', t);
      });
      fresh.push(f);
    }
    // Each step's renames are flushed before the next step relies on them (syncDir): after a power
    // loss, too, the main file on disk never names a data file that is not there.
    for (const d of new Set(fresh.map((f) => path.dirname(f)))) await syncDir(d);
    const first = await stageChunks(abs, encodeMain(names(fresh)));
    await first.commit();
    committed = true;
    await syncDir(dir);
    const provisional: LinkedFiles = { main: abs, bytes: first.bytes, files: fresh.map((f, i) => ({ path: f, bytes: staged[i]!.bytes })) };

    for (const [i, t] of targets.entries()) {
      if (!(await linkOver(fresh[i]!, t))) return provisional;
    }
    for (const d of new Set(targets.map((t) => path.dirname(t)))) await syncDir(d);
    try {
      await rename(stagedMain, abs);
    } catch {
      return provisional;
    }
    await syncDir(dir);
    for (const f of fresh) await unlink(f).catch(() => undefined);
    return { main: abs, bytes, files: targets.map((t, i) => ({ path: t, bytes: staged[i]!.bytes })) };
  } catch (e) {
    if (!committed) for (const f of fresh) await unlink(f).catch(() => undefined);
    throw e;
  } finally {
    await rm(stage, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Gives `target` the contents of `from` (a hard link, else a flushed copy) by a rename; false when it could not. */
async function linkOver(from: string, target: string): Promise<boolean> {
  const tmp = tempPathFor(target);
  try {
    try {
      await link(from, tmp);
    } catch {
      // No hard links on this file system (FAT, some network shares): the data is written once more.
      await copyFile(from, tmp, constants.COPYFILE_EXCL);
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await rename(tmp, target);
    return true;
  } catch {
    await unlink(tmp).catch(() => undefined);
    return false;
  }
}

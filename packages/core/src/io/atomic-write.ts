/**
 * Atomic file writes: the data goes to a temporary file in the target's folder (same file system, so
 * the rename cannot degrade into a copy), is flushed to disk, and is renamed over the target. Readers
 * see the old file or the complete new one, never a partial one; on failure the temp file is removed.
 */
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { errnoOf, fsError } from './fs-error.js';
import { tempPathFor } from './temp-name.js';

/** Node refuses single reads/writes of 2 GiB or more; stay well below. */
export const MAX_IO_CHUNK = 1 << 30;
// Small pieces (e.g. hundreds of small tensors) are gathered so each write call moves a decent amount.
const STAGING_BYTES = 4 << 20;

async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const n = Math.min(data.length - off, MAX_IO_CHUNK);
    const { bytesWritten } = await fh.write(data, off, n);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    off += bytesWritten;
  }
}

/** Buffers small chunks into one staging buffer; large ones go straight to the file (no copy). */
class ChunkWriter {
  private staging: Uint8Array | null = null;
  private used = 0;
  bytes = 0;

  constructor(private readonly fh: FileHandle) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.length;
    if (chunk.length >= STAGING_BYTES / 4) {
      await this.flush();
      await writeAll(this.fh, chunk);
      return;
    }
    if (this.used + chunk.length > STAGING_BYTES) await this.flush();
    this.staging ??= new Uint8Array(STAGING_BYTES);
    this.staging.set(chunk, this.used);
    this.used += chunk.length;
  }

  async flush(): Promise<void> {
    if (this.used === 0 || this.staging === null) return;
    await writeAll(this.fh, this.staging.subarray(0, this.used));
    this.used = 0;
  }
}

async function openTemp(target: string): Promise<{ fh: FileHandle; tmp: string }> {
  const tmp = tempPathFor(target);
  try {
    return { fh: await open(tmp, 'wx'), tmp };
  } catch (e) {
    const dir = path.dirname(target);
    const errno = errnoOf(e);
    if (errno === 'ENOENT' || errno === 'ENOTDIR') {
      throw new ShrinkError('IO', `cannot write ${target}: folder ${dir} does not exist; create it first or choose another output path`, {
        cause: e,
      });
    }
    throw fsError(e, 'write', target);
  }
}

/** A complete, flushed temp file beside its target, not yet renamed over it. */
export interface StagedFile {
  readonly target: string;
  /** The complete temp file, until commit or discard. */
  readonly temp: string;
  readonly bytes: number;
  /** Renames the temp file over the target. */
  commit(): Promise<void>;
  /** Removes the temp file (the target is untouched). */
  discard(): Promise<void>;
}

async function failWrite(e: unknown, abs: string): Promise<never> {
  if (errnoOf(e) === 'EISDIR' || (errnoOf(e) === 'ENOTEMPTY' && (await isDir(abs)))) {
    throw new ShrinkError('IO', `cannot write ${abs}: it is a folder; expected a file path`, { cause: e });
  }
  throw fsError(e, 'write', abs);
}

/**
 * Writes the chunks to a temp file beside `target` and flushes it, without renaming: the caller
 * commits it once whatever must come first (a check, other files) is done.
 */
export async function stageChunks(target: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<StagedFile> {
  const abs = path.resolve(target);
  const { fh, tmp } = await openTemp(abs);
  let closed = false;
  let bytes: number;
  try {
    const writer = new ChunkWriter(fh);
    for await (const chunk of chunks) await writer.write(chunk);
    await writer.flush();
    await fh.sync();
    closed = true;
    await fh.close();
    bytes = writer.bytes;
  } catch (e) {
    if (!closed) await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    return failWrite(e, abs);
  }
  return {
    target: abs,
    temp: tmp,
    bytes,
    commit: async () => {
      try {
        await rename(tmp, abs);
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        await failWrite(e, abs);
      }
    },
    discard: () => unlink(tmp).catch(() => undefined),
  };
}

/**
 * Writes a sequence of chunks to `target` atomically; returns the bytes written. Chunks may be views
 * of any size (> 2 GiB is split). The iterable may be async, and may throw to abort the write.
 */
export async function writeChunksAtomic(target: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<number> {
  const staged = await stageChunks(target, chunks);
  await staged.commit();
  return staged.bytes;
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}

/** Writes bytes or UTF-8 text to `target` atomically; returns the bytes written. */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<number> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return writeChunksAtomic(target, [bytes]);
}

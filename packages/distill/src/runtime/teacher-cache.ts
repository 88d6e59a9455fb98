import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fsError, writeFileAtomic } from '@shrink/core/io';

/** Bump when the meaning of cached values changes, so old entries are never read as new ones. */
const CACHE_VERSION = 1;

/**
 * Where teacher outputs are cached between runs: $SHRINK_CACHE_DIR, else $XDG_CACHE_HOME/shrink,
 * else ~/.cache/shrink — the place other tools' caches live, so a new `-o` does not pay again.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['SHRINK_CACHE_DIR']) return path.resolve(env['SHRINK_CACHE_DIR']);
  const base = env['XDG_CACHE_HOME'] ? path.resolve(env['XDG_CACHE_HOME']) : path.join(os.homedir(), '.cache');
  return path.join(base, 'shrink');
}

/** The cache key: the teacher's bytes, the samples (values and shape) and what is asked of the teacher. */
export function teacherCacheKey(modelBytes: Uint8Array, x: Float32Array, sampleShape: readonly number[], request: unknown): string {
  const h = createHash('sha256');
  h.update(`shrink-teacher-v${CACHE_VERSION}\0`);
  h.update(createHash('sha256').update(modelBytes).digest());
  h.update(JSON.stringify({ sampleShape, n: x.length, request }));
  h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  return h.digest('hex').slice(0, 40);
}

export interface CachedArrays {
  meta: Record<string, unknown>;
  arrays: Float32Array[];
}

const files = (dir: string, key: string) => ({
  bin: path.join(dir, 'teacher', `${key}.bin`),
  json: path.join(dir, 'teacher', `${key}.json`),
});

/** The cached arrays, or undefined when absent or unreadable (a damaged entry is recomputed, not trusted). */
export async function readCache(dir: string, key: string): Promise<CachedArrays | undefined> {
  const f = files(dir, key);
  try {
    const meta = JSON.parse(await readFile(f.json, 'utf8')) as { lengths?: unknown; meta?: Record<string, unknown> };
    const lengths = meta.lengths;
    if (!Array.isArray(lengths) || !lengths.every((n) => Number.isInteger(n) && n >= 0)) return undefined;
    const bin = await readFile(f.bin);
    const total = (lengths as number[]).reduce((a, b) => a + b, 0);
    if (bin.byteLength !== total * 4) return undefined;
    // Copy out of the Buffer pool: it may be unaligned for a Float32Array.
    const all = new Float32Array(total);
    new Uint8Array(all.buffer).set(bin);
    const arrays: Float32Array[] = [];
    let at = 0;
    for (const n of lengths as number[]) {
      arrays.push(all.subarray(at, at + n));
      at += n;
    }
    return { meta: meta.meta ?? {}, arrays };
  } catch {
    return undefined;
  }
}

/** Stores arrays atomically: the .json (written last) marks a complete entry. */
export async function writeCache(dir: string, key: string, entry: CachedArrays): Promise<void> {
  const f = files(dir, key);
  try {
    await mkdir(path.dirname(f.bin), { recursive: true });
  } catch (e) {
    throw fsError(e, 'create the teacher cache folder', path.dirname(f.bin));
  }
  const all = concatFloat32(entry.arrays);
  await writeFileAtomic(f.bin, new Uint8Array(all.buffer));
  await writeFileAtomic(f.json, JSON.stringify({ version: CACHE_VERSION, lengths: entry.arrays.map((a) => a.length), meta: entry.meta }));
}

/** One array holding `parts` one after another. */
export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

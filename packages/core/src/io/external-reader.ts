/**
 * External data read in place, for models too large to load: where each external tensor's bytes are
 * (file, offset, length), checked once up front, and reads of any part of them. loadModel reads every
 * tensor into memory; this never reads more than it is asked for.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import type { onnx } from '../onnx/proto.js';
import { MAX_IO_CHUNK } from './atomic-write.js';
import { errnoOf, fsError } from './fs-error.js';
import { externalRef, forEachTensor, isExternal } from './model-tensors.js';
import { resolveInside } from './safe-path.js';

/** Where one external tensor's bytes are. */
export interface ExternalBytes {
  /** Absolute path of the data file (inside the model's folder). */
  readonly file: string;
  readonly offset: number;
  readonly length: number;
  /** How errors name the tensor: `tensor 'W'`. */
  readonly label: string;
}

/**
 * Every external tensor of `model` (anywhere forEachTensor looks), located and checked against its file:
 * a location outside `baseDir` is UNSAFE_PATH, a missing or unreadable file and bytes past its end are
 * INVALID_MODEL, each in one line naming the tensor and the file. Keys are the tensor objects.
 */
export function locateExternalData(model: onnx.IModelProto, baseDir: string, source: string): Map<onnx.ITensorProto, ExternalBytes> {
  const sizes = new Map<string, number>();
  const sizeOf = (file: string, label: string): number => {
    const known = sizes.get(file);
    if (known !== undefined) return known;
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new ShrinkError('INVALID_MODEL', `${source}: external data of ${label} is ${file}, which is not a file`);
      size = st.size;
    } catch (e) {
      if (e instanceof ShrinkError) throw e;
      const why = errnoOf(e) === 'ENOENT' ? 'does not exist' : `cannot be read (${fsError(e, 'stat', file).message})`;
      throw new ShrinkError('INVALID_MODEL', `${source}: external data file ${file} of ${label} ${why}`, { cause: e });
    }
    sizes.set(file, size);
    return size;
  };
  const out = new Map<onnx.ITensorProto, ExternalBytes>();
  forEachTensor(model, (t, label) => {
    if (!isExternal(t)) return;
    const ref = externalRef(t, label, source);
    const file = resolveInside(baseDir, ref.location, `${source}: ${label} has external data location '${ref.location}'`);
    const size = sizeOf(file, label);
    const length = ref.length ?? Math.max(0, size - ref.offset);
    if (ref.offset + length > size) {
      throw new ShrinkError(
        'INVALID_MODEL',
        `${source}: ${label} wants bytes ${ref.offset}..${ref.offset + length} of ${file}, which has only ${size} bytes; the external data file is truncated or does not belong to this model`,
      );
    }
    out.set(t, { file, offset: ref.offset, length, label });
  });
  return out;
}

/** The external data files `model` (at `modelPath`) reads, with their sizes: the bytes a streamed pass would read. */
export function externalDataFiles(model: onnx.IModelProto, modelPath: string): Map<string, number> {
  const files = new Map<string, number>();
  for (const b of locateExternalData(model, path.dirname(path.resolve(modelPath)), modelPath).values()) {
    if (!files.has(b.file)) files.set(b.file, statSync(b.file).size);
  }
  return files;
}

/**
 * Reads `length` bytes at `position` of an open file into `into` from `at`, in pieces Node accepts;
 * a short file (changed since it was checked) is an IO error naming it.
 */
export function readFully(fd: number, into: Uint8Array, at: number, length: number, position: number, file: string): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, into, at + done, Math.min(length - done, MAX_IO_CHUNK), position + done);
    if (n === 0) throw new ShrinkError('IO', `unexpected end of ${file} at byte ${position + done} (file changed while reading?)`);
    done += n;
  }
}

/** Runs `fn` with `file` open for reading (synchronous: worker threads read this way). */
export function withFileSync<T>(file: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw fsError(e, 'open', file);
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

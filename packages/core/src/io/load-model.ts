import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { decodeModel } from '../onnx/codec.js';
import { PROTOBUF_MAX_BYTES, onnx } from '../onnx/proto.js';
import { MAX_IO_CHUNK } from './atomic-write.js';
import { errnoOf, fsError } from './fs-error.js';
import { externalRef, forEachTensor, isExternal } from './model-tensors.js';
import { resolveInside } from './safe-path.js';

export interface LoadOptions {
  /** Folder that external-data locations are relative to; defaults to the model file's folder. */
  baseDir?: string;
}

/** Reads a model file's bytes; refuses folders and files beyond protobuf's 2 GiB limit. */
export async function readModelFile(file: string): Promise<Uint8Array> {
  const abs = path.resolve(file);
  let size: number;
  try {
    const st = await stat(abs);
    if (st.isDirectory()) {
      throw new ShrinkError('INVALID_ARGUMENT', `${file} is a folder; expected an .onnx model file`);
    }
    size = st.size;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') throw new ShrinkError('NOT_FOUND', `model file not found: ${file}`, { cause: e });
    throw fsError(e, 'read model file', file);
  }
  if (size > PROTOBUF_MAX_BYTES) {
    throw new ShrinkError(
      'INVALID_MODEL',
      `${file}: not an ONNX model (${size} bytes, over protobuf's 2 GiB limit; bigger weights belong in external data files); expected a serialized onnx.ModelProto`,
    );
  }
  try {
    return await readFile(abs);
  } catch (e) {
    throw fsError(e, 'read model file', file);
  }
}

/**
 * Loads an ONNX model from a file (or its bytes) into a self-contained ModelProto: tensors stored as
 * external data are read into `rawData` (each in its own buffer, so it is aligned for typed-array
 * views) and marked as inline, so the model can be edited and saved anywhere. External locations must
 * stay inside the model's folder (UNSAFE_PATH otherwise); the optional `checksum` entry is not verified.
 */
export async function loadModel(pathOrBytes: string | Uint8Array, opts: LoadOptions = {}): Promise<onnx.ModelProto> {
  const fromFile = typeof pathOrBytes === 'string';
  const source = fromFile ? pathOrBytes : 'model bytes';
  const bytes = fromFile ? await readModelFile(pathOrBytes) : pathOrBytes;
  const model = decodeModel(bytes, source);
  const baseDir = opts.baseDir ?? (fromFile ? path.dirname(path.resolve(pathOrBytes)) : undefined);
  await resolveExternalData(model, baseDir, source);
  return model;
}

interface Pending {
  tensor: onnx.ITensorProto;
  label: string;
  location: string;
  offset: number;
  length: number | undefined;
}

/** Reads every external tensor of `model` into rawData, in place. */
export async function resolveExternalData(model: onnx.IModelProto, baseDir: string | undefined, source = 'model'): Promise<void> {
  const byFile = new Map<string, Pending[]>();
  forEachTensor(model, (tensor, label) => {
    if (!isExternal(tensor)) return;
    const ref = externalRef(tensor, label, source);
    if (baseDir === undefined) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `${source}: ${label} keeps its data in external file '${ref.location}'; pass baseDir (the folder of the .onnx file) or load the model from its path`,
      );
    }
    const file = resolveInside(baseDir, ref.location, `${source}: ${label} has external data location '${ref.location}'`);
    const list = byFile.get(file) ?? [];
    list.push({ tensor, label, ...ref });
    byFile.set(file, list);
  });
  for (const [file, list] of byFile) await readRanges(file, list, source);
}

async function readRanges(file: string, list: readonly Pending[], source: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    const first = list[0]!;
    const why = errnoOf(e) === 'ENOENT' ? 'does not exist' : `cannot be read (${fsError(e, 'open', file).message})`;
    throw new ShrinkError('INVALID_MODEL', `${source}: external data file ${file} of ${first.label} ${why}`, { cause: e });
  }
  try {
    const size = (await fh.stat()).size;
    for (const p of list) {
      const length = p.length ?? Math.max(0, size - p.offset);
      if (p.offset + length > size) {
        throw new ShrinkError(
          'INVALID_MODEL',
          `${source}: ${p.label} wants bytes ${p.offset}..${p.offset + length} of ${file}, which has only ${size} bytes; the external data file is truncated or does not belong to this model`,
        );
      }
      p.tensor.rawData = await readRange(fh, p.offset, length, file);
      Reflect.deleteProperty(p.tensor, 'dataLocation');
      p.tensor.externalData = [];
    }
  } finally {
    await fh.close();
  }
}

async function readRange(fh: FileHandle, offset: number, length: number, file: string): Promise<Uint8Array> {
  // Unpooled: its own ArrayBuffer at offset 0, so Float32Array/Float64Array views need no copy.
  const buf = Buffer.allocUnsafeSlow(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, Math.min(length - done, MAX_IO_CHUNK), offset + done);
    if (bytesRead === 0) throw new ShrinkError('IO', `unexpected end of ${file} at byte ${offset + done} (file changed while reading?)`);
    done += bytesRead;
  }
  return buf;
}

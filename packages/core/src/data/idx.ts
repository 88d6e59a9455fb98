import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { fsError } from '../io/fs-error.js';
import { tensorNumel } from '../onnx/tensor.js';
import type { Dataset, Split } from './dataset.js';
import { createDataset, sampleSize } from './dataset-ops.js';
import { readDataFile } from './read-data-file.js';

/** A parsed IDX file (the MNIST format): big-endian dims, then unsigned bytes. */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

const IDX_TYPE_NAMES: Record<number, string> = {
  0x08: 'uint8',
  0x09: 'int8',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** Parses IDX bytes; only the unsigned-byte type (0x08) used by MNIST-style image sets is read. */
export function parseIdx(buf: Uint8Array, file: string): IdxArray {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) {
    throw new ShrinkError('INVALID_DATA', `${file}: not an IDX file (the first two bytes must be zero)`);
  }
  const type = buf[2] as number;
  const ndims = buf[3] as number;
  if (type !== 0x08) {
    const name = IDX_TYPE_NAMES[type] ?? 'unknown';
    throw new ShrinkError('INVALID_DATA', `${file}: IDX element type 0x${type.toString(16)} (${name}); only uint8 (0x08) is supported`);
  }
  if (ndims < 1) throw new ShrinkError('INVALID_DATA', `${file}: IDX header declares 0 dimensions`);
  const headerSize = 4 + 4 * ndims;
  if (buf.length < headerSize) throw new ShrinkError('INVALID_DATA', `${file}: truncated IDX header (${buf.length} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = tensorNumel(dims);
  const have = buf.length - headerSize;
  if (have !== count) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${file}: IDX dims [${dims.join(', ')}] need ${count} data bytes, the file has ${have}${have < count ? ' (truncated)' : ''}`,
    );
  }
  return { dims, data: buf.subarray(headerSize) };
}

export async function readIdxFile(file: string): Promise<IdxArray> {
  return parseIdx(await readDataFile(file), file);
}

export interface IdxPairOptions {
  name?: string;
  /** Read at most this many samples. */
  limit?: number;
  /** Default: largest label + 1. */
  numClasses?: number;
}

/**
 * An images file ([n, h, w] or [n, h, w, c] or [n, d]) and a labels file ([n]) as one classification
 * Dataset; pixels divided by 255, images NHWC (an [n, h, w] file gives samples [h, w, 1]).
 */
export async function loadIdxPair(imagesFile: string, labelsFile: string, opts: IdxPairOptions = {}): Promise<Dataset> {
  const [images, labels] = await Promise.all([readIdxFile(imagesFile), readIdxFile(labelsFile)]);
  const [n, ...rest] = images.dims as [number, ...number[]];
  if (rest.length < 1 || rest.length > 3) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${imagesFile}: images IDX has ${images.dims.length} dims; expected 2 to 4 ([n, h, w] for images)`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new ShrinkError('INVALID_DATA', `${labelsFile}: labels IDX has dims [${labels.dims.join(', ')}]; expected one dimension [n]`);
  }
  if (labels.dims[0] !== n) {
    throw new ShrinkError('INVALID_DATA', `${labelsFile}: ${labels.dims[0]} labels but ${imagesFile} has ${n} images`);
  }
  const take = opts.limit === undefined ? n : Math.min(n, opts.limit);
  const sampleShape = rest.length === 2 ? [...rest, 1] : rest;
  const per = sampleSize(rest);
  const x = new Float32Array(take * per);
  for (let i = 0; i < x.length; i++) x[i] = (images.data[i] as number) / 255;
  const y = Int32Array.from(labels.data.subarray(0, take));
  return createDataset({
    name: opts.name ?? imagesFile,
    task: 'classification',
    sampleShape,
    x,
    y,
    ...(opts.numClasses === undefined ? {} : { numClasses: opts.numClasses }),
  });
}

export type IdxPart = 'train' | 'test';
export interface IdxFiles {
  images: string;
  labels: string;
}

const IDX_NAME = /^(train|t10k|test)-(images|labels)[.-]idx([13])-ubyte(\.gz)?$/;

/**
 * The train and test image/label files in a folder, named like MNIST's
 * (train-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; "test-" is accepted for "t10k-").
 */
export async function findIdxFiles(dir: string): Promise<Partial<Record<IdxPart, IdxFiles>>> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    throw fsError(e, 'list data folder', dir);
  }
  const found: Partial<Record<IdxPart, Partial<IdxFiles>>> = {};
  for (const name of names) {
    const m = IDX_NAME.exec(name);
    if (!m) continue;
    const part: IdxPart = m[1] === 'train' ? 'train' : 'test';
    const kind = m[2] as 'images' | 'labels';
    const slot = (found[part] ??= {});
    // Prefer the uncompressed file when both exist (sorted order puts it first).
    slot[kind] ??= path.join(dir, name);
  }
  const out: Partial<Record<IdxPart, IdxFiles>> = {};
  for (const part of ['train', 'test'] as const) {
    const f = found[part];
    if (f?.images && f.labels) out[part] = { images: f.images, labels: f.labels };
  }
  return out;
}

export interface IdxFolderOptions {
  /** Dataset name prefix (default: the folder). */
  name?: string;
  /** Read at most this many samples from each file. */
  limit?: number;
  numClasses?: number;
}

/** One part of an IDX folder. */
export async function loadIdxPart(dir: string, part: IdxPart, opts: IdxFolderOptions = {}): Promise<Dataset> {
  const files = await findIdxFiles(dir);
  const f = files[part];
  if (!f) {
    const prefix = part === 'train' ? 'train' : 't10k';
    throw new ShrinkError(
      'NOT_FOUND',
      `no ${part} set in ${dir}: expected ${prefix}-images-idx3-ubyte[.gz] and ${prefix}-labels-idx1-ubyte[.gz]`,
    );
  }
  return loadIdxPair(f.images, f.labels, { ...opts, name: `${opts.name ?? dir}:${part}` });
}

/** Both parts of an IDX folder (Fashion-MNIST, MNIST layout). */
export async function loadIdxFolder(dir: string, opts: IdxFolderOptions = {}): Promise<Split> {
  const [train, test] = await Promise.all([loadIdxPart(dir, 'train', opts), loadIdxPart(dir, 'test', opts)]);
  return { train, test };
}

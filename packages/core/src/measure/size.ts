/**
 * Sizes of a model as bytes: what it weighs encoded and what it weighs gzipped (the download cost on
 * a CDN that compresses). A file's on-disk size including external data is io's job (it knows the files).
 */
import { gzipLength } from '#gzip';
import type { onnx } from '../onnx/proto.js';
import { encodeModel } from '../onnx/codec.js';

export interface GzipOptions {
  /** Deflate level 0-9; 9 unless set: the size left after the best compression a server would apply. */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

/** Bytes after gzip compression (header and trailer included, as a served file would be). */
export function gzipSize(bytes: Uint8Array, opts: GzipOptions = {}): number {
  return gzipLength(bytes, opts.level ?? 9);
}

export interface ModelSizes {
  /** Encoded protobuf bytes (tensors held in external data files are not counted). */
  readonly bytes: number;
  readonly gzipBytes: number;
}

/** Encoded and gzipped size of a model (a ModelProto, or its already encoded bytes). */
export function modelSizes(model: onnx.IModelProto | Uint8Array, opts: GzipOptions = {}): ModelSizes {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  return { bytes: bytes.length, gzipBytes: gzipSize(bytes, opts) };
}

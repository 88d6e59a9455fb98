/**
 * Sizes of a model as bytes: what it weighs encoded and what it weighs gzipped (the download cost on
 * a CDN that compresses). A file's on-disk size including external data is io's job (it knows the files).
 */
import { gzipSync } from 'fflate';
import type { onnx } from 'onnx-proto';
import { encodeModel } from '../onnx/codec.js';

export interface GzipOptions {
  /** zlib level 0-9; 6 (the gzip CLI's default) unless set. */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

/** Bytes after gzip compression (header and trailer included, as a served file would be). */
export function gzipSize(bytes: Uint8Array, opts: GzipOptions = {}): number {
  return gzipSync(bytes, { level: opts.level ?? 6 }).length;
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

import type * as ort from 'onnxruntime-node';
import { ShrinkError } from '../errors.js';
import { float16ToFloat32 } from '../onnx/tensor.js';

/** A tensor's values as float32 (the data itself when it already is float32); `what` names it in errors. */
export function tensorToFloat32(t: ort.Tensor, what: string): Float32Array {
  const data = t.data;
  switch (t.type) {
    case 'float32':
      return data as Float32Array;
    case 'float16':
      // ort-node hands float16 out as raw bits (Uint16Array); newer runtimes may give a Float16Array.
      return data instanceof Uint16Array ? float16ToFloat32(data) : Float32Array.from(data as ArrayLike<number>);
    case 'string':
      throw new ShrinkError('INVALID_DATA', `${what} holds strings, not numbers`);
    default: {
      const src = data as ArrayLike<number | bigint>;
      const out = new Float32Array(src.length);
      for (let i = 0; i < out.length; i++) out[i] = Number(src[i]!);
      return out;
    }
  }
}

/** An output as one row of `width` values per sample, checked against the rows that were fed. */
export function outputRows(t: ort.Tensor, rows: number, what: string): { data: Float32Array; width: number } {
  if (t.dims.length === 0 || t.dims[0] !== rows || t.data.length % rows !== 0) {
    throw new ShrinkError('INVALID_DATA', `${what} has dims [${t.dims.join(', ')}]; expected the batch of ${rows} as its first dim`);
  }
  return { data: tensorToFloat32(t, what), width: t.data.length / rows };
}

/** Index of the largest of `width` values starting at `offset` (the first one on ties, as numpy). */
export function argmaxRow(data: Float32Array, offset: number, width: number): number {
  let best = 0;
  let bestV = data[offset]!;
  for (let j = 1; j < width; j++) {
    const v = data[offset + j]!;
    if (v > bestV) {
      bestV = v;
      best = j;
    }
  }
  return best;
}

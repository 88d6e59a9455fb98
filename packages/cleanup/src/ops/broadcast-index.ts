import { tensorNumel } from '@shrink/core';

/** Row-major strides of `dims`. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

/**
 * For each element of a tensor of dims `out`, in row-major order, the flat index of the source
 * element it reads, when moving one step along output axis `a` moves `step[a]` elements in the source
 * (Transpose: the source's stride of the permuted axis; broadcasting: 0 along repeated axes; Slice: its
 * steps, negative ones too), starting at source element `base`.
 */
export function strideIndex(out: readonly number[], step: readonly number[], base = 0): Uint32Array {
  const rank = out.length;
  const n = tensorNumel(out);
  const index = new Uint32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let at = base;
  for (let i = 0; i < n; i++) {
    index[i] = at;
    // Odometer: advance the last axis, carrying into earlier ones.
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      at += step[axis]!;
      if (counter[axis]! < out[axis]!) break;
      at -= step[axis]! * counter[axis]!;
      counter[axis] = 0;
    }
  }
  return index;
}

/**
 * For each element of a tensor of dims `out`, the flat index of the element of a tensor of dims `from`
 * that numpy-style broadcasting reads (`from` aligned right; its dims of 1 repeat). The caller has
 * checked that `from` broadcasts to `out` (core's broadcastShapes).
 */
export function broadcastIndex(out: readonly number[], from: readonly number[]): Uint32Array {
  const fromStrides = stridesOf(from);
  const offset = out.length - from.length;
  return strideIndex(
    out,
    out.map((_, axis) => {
      const j = axis - offset;
      return j >= 0 && from[j] !== 1 ? fromStrides[j]! : 0;
    }),
  );
}

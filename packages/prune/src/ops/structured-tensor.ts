import type { Graph } from '@shrink/core';

/** A constant whose `axis` runs over the pruned units; `expand` > 1 when each unit covers a block (after Flatten). */
export interface UnitSlice {
  tensor: string;
  axis: number;
  expand: number;
}

function product(dims: readonly number[], from: number, to: number): number {
  let p = 1;
  for (let i = from; i < to; i++) p *= dims[i]!;
  return p;
}

/** The entries of `data` (shaped `dims`) at positions `keep` along `axis`, in that order. */
export function gatherAxis(data: Float32Array, dims: readonly number[], axis: number, keep: readonly number[]): Float32Array {
  const outer = product(dims, 0, axis);
  const n = dims[axis]!;
  const inner = product(dims, axis + 1, dims.length);
  const out = new Float32Array(outer * keep.length * inner);
  if (inner === 1) {
    // Column selection (MatMul [K, N] axis 1): one element per unit, so skip the per-slice subarray.
    for (let o = 0, d = 0; o < outer; o++) for (const src of keep) out[d++] = data[o * n + src]!;
    return out;
  }
  for (let o = 0; o < outer; o++) {
    keep.forEach((src, k) => {
      const at = (o * n + src) * inner;
      out.set(data.subarray(at, at + inner), (o * keep.length + k) * inner);
    });
  }
  return out;
}

/** L1 or L2 norm of every slice of `data` along `axis` (the weights of one unit). */
export function axisNorms(data: Float32Array, dims: readonly number[], axis: number, norm: 'l1' | 'l2'): Float64Array {
  const outer = product(dims, 0, axis);
  const n = dims[axis]!;
  const inner = product(dims, axis + 1, dims.length);
  const out = new Float64Array(n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const at = (o * n + j) * inner;
      let s = 0;
      for (let i = 0; i < inner; i++) {
        const v = data[at + i]!;
        s += norm === 'l1' ? Math.abs(v) : v * v;
      }
      out[j]! += s;
    }
  }
  if (norm === 'l2') for (let j = 0; j < n; j++) out[j] = Math.sqrt(out[j]!);
  return out;
}

/** Unit indices kept -> indices along the sliced axis (unit u covers u*expand .. u*expand+expand-1). */
export function expandKeep(keep: readonly number[], expand: number): number[] {
  if (expand === 1) return [...keep];
  const out: number[] = [];
  for (const u of keep) for (let r = 0; r < expand; r++) out.push(u * expand + r);
  return out;
}

/** Replaces a float32 initializer with only the kept units along its unit axis. */
export function sliceInitializer(graph: Graph, slice: UnitSlice, keep: readonly number[]): void {
  const t = graph.readInitializer(slice.tensor);
  const idx = expandKeep(keep, slice.expand);
  const data = gatherAxis(t.data as Float32Array, t.dims, slice.axis, idx);
  const dims = [...t.dims];
  dims[slice.axis] = idx.length;
  graph.setInitializer(slice.tensor, 'float32', dims, data, { copy: false });
}

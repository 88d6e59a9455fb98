/**
 * Dense transpose of a row-major array: output dim i is input dim perm[i] (numpy/ONNX Transpose semantics).
 * Weights are converted with this in plain JS so conversion does not depend on a tfjs backend.
 */
export function permute(data: ArrayLike<number>, dims: readonly number[], perm: readonly number[]): Float32Array;
export function permute<T extends Float32Array | Int32Array>(
  data: ArrayLike<number>,
  dims: readonly number[],
  perm: readonly number[],
  out: T,
): T;
export function permute(
  data: ArrayLike<number>,
  dims: readonly number[],
  perm: readonly number[],
  out: Float32Array | Int32Array = new Float32Array(data.length),
): Float32Array | Int32Array {
  const rank = dims.length;
  const outDims = perm.map((p) => dims[p]!);
  const inStrides = stridesOf(dims);
  const outStrides = stridesOf(outDims);
  const size = data.length;
  // Stride of each output axis measured in the input, so the inner loop is a single add.
  const step = perm.map((p) => inStrides[p]!);
  for (let o = 0; o < size; o++) {
    let rem = o;
    let src = 0;
    for (let i = 0; i < rank; i++) {
      const q = Math.floor(rem / outStrides[i]!);
      rem -= q * outStrides[i]!;
      src += q * step[i]!;
    }
    out[o] = data[src]!;
  }
  return out;
}

export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

/** q such that q[perm[i]] = i: undoes `perm`. */
export function invertPerm(perm: readonly number[]): number[] {
  const q = new Array<number>(perm.length);
  perm.forEach((p, i) => (q[p] = i));
  return q;
}

/** NHWC -> NCHW and back, the only layout change a 2-D image network needs. */
export const NHWC_TO_NCHW: readonly number[] = [0, 3, 1, 2];
export const NCHW_TO_NHWC: readonly number[] = [0, 2, 3, 1];

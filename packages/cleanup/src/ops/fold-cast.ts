/**
 * Cast between the numeric types Shrink carries, as onnxruntime's CPU kernel does it: floats narrow
 * with round-to-nearest-even (float64 and ints through float32 into float16/bfloat16), floats become
 * ints by truncation toward zero, ints wrap into narrower ints, anything non-zero is true. What C++
 * leaves undefined (NaN, infinity or a value out of range into an int; an int64 past 2^53 into a
 * float, which would round twice) is kept for the runtime to do.
 */
import {
  attrInt,
  dtypeFromOnnx,
  float32ToBfloat16,
  float32ToFloat16,
  INT_DTYPE_RANGE,
  isFloatDType,
  type DType,
  type TensorData,
} from '@shrink/core';
import { folded, keep, type FoldOp } from './fold-types.js';
import { numericElements, type NumericElements } from './numeric-elements.js';

/** Doubles of the elements, or why they have none exact (int64 past 2^53). */
function asNumbers(e: NumericElements): ArrayLike<number> | string {
  if (!e.big) return e.values;
  const out = new Float64Array(e.values.length);
  for (let i = 0; i < out.length; i++) {
    const v = e.values[i]!;
    if (v > 2n ** 53n || v < -(2n ** 53n)) return `value ${v} is past 2^53: it would round twice`;
    out[i] = Number(v);
  }
  return out;
}

/** Float elements truncated toward zero, or why one has no int in `to` (NaN, infinity, out of range). */
function truncated(values: ArrayLike<number>, to: DType): number[] | string {
  const [lo, hi] = INT_DTYPE_RANGE[to]!;
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const t = Math.trunc(values[i]!);
    // hi of (u)int64 rounds up to 2^63 / 2^64 as a double: those are out of range too.
    if (!(t >= lo && t <= hi) || (hi >= 2 ** 63 && t >= hi)) return `${values[i]} has no ${to} value (undefined in C++)`;
    out[i] = t === 0 ? 0 : t;
  }
  return out;
}

function castElements(e: NumericElements, from: DType, to: DType): TensorData | readonly number[] | string {
  const isFloatSource = isFloatDType(from);
  switch (to) {
    case 'float32':
    case 'float64':
    case 'float16':
    case 'bfloat16': {
      const numbers = asNumbers(e);
      if (typeof numbers === 'string') return numbers;
      if (to === 'float64') return Float64Array.from(numbers);
      const f32 = Float32Array.from(numbers);
      return to === 'float32' ? f32 : to === 'float16' ? float32ToFloat16(f32) : float32ToBfloat16(f32);
    }
    case 'bool': {
      const out = new Uint8Array(e.values.length);
      for (let i = 0; i < out.length; i++) out[i] = e.values[i] ? 1 : 0;
      // NaN is true in C++ (it is not 0), falsy in JavaScript.
      if (!e.big) for (let i = 0; i < out.length; i++) if (Number.isNaN(e.values[i])) out[i] = 1;
      return out;
    }
    case 'int64':
    case 'uint64': {
      const wrap = to === 'int64' ? (v: bigint) => BigInt.asIntN(64, v) : (v: bigint) => BigInt.asUintN(64, v);
      const out = to === 'int64' ? new BigInt64Array(e.values.length) : new BigUint64Array(e.values.length);
      if (e.big) {
        for (let i = 0; i < out.length; i++) out[i] = wrap(e.values[i]!);
        return out;
      }
      const ints = isFloatSource ? truncated(e.values, to) : Array.from(e.values);
      if (typeof ints === 'string') return ints;
      for (let i = 0; i < out.length; i++) out[i] = wrap(BigInt(ints[i]!));
      return out;
    }
    default: {
      // int8 .. uint32 as numbers: core's makeTensor stores them in the type's array, which wraps as C++ does.
      if (!INT_DTYPE_RANGE[to]) return `Cast to ${to} is not folded`;
      if (e.big) {
        const bits = to.endsWith('32') ? 32 : to.endsWith('16') ? 16 : 8;
        return Array.from(e.values, (v) => Number(BigInt.asIntN(bits, v)));
      }
      return isFloatSource ? truncated(e.values, to) : Array.from(e.values);
    }
  }
}

export const CAST_OPS: ReadonlyMap<string, FoldOp> = new Map([
  [
    'Cast',
    {
      needs: 'all',
      fold(node, view) {
        const x = view.value(0);
        if (!x) return keep('input is missing');
        let to: DType;
        try {
          to = dtypeFromOnnx(attrInt(node, 'to', 0));
        } catch (e) {
          return keep((e as Error).message);
        }
        const elements = numericElements(x);
        if (!elements || to === 'string') return keep('string casts are not folded');
        const data = castElements(elements, x.dtype, to);
        if (typeof data === 'string') return keep(data);
        return folded({ dtype: to, dims: x.dims, data });
      },
    },
  ],
]);

import { toFloat32, type TensorValue } from '@shrink/core';

/** A numeric constant's elements: doubles (float16/bfloat16 decoded, bool as 0/1), or bigints for 64-bit ints. */
export type NumericElements =
  { readonly big: false; readonly values: ArrayLike<number> } | { readonly big: true; readonly values: BigInt64Array | BigUint64Array };

/** The elements of `v` to compute with; undefined for strings. Never a copy the caller may write. */
export function numericElements(v: TensorValue): NumericElements | undefined {
  switch (v.dtype) {
    case 'string':
      return undefined;
    case 'int64':
    case 'uint64':
      return { big: true, values: v.data as BigInt64Array | BigUint64Array };
    case 'float16':
    case 'bfloat16':
      return { big: false, values: toFloat32(v) };
    default:
      return { big: false, values: v.data as ArrayLike<number> };
  }
}

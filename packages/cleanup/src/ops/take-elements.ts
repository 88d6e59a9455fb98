import type { TensorData } from '@shrink/core';

type Ctor = new (length: number) => TensorData;

/** A new zeroed array of the same element type as `like`, `length` long. */
export function emptyLike(like: TensorData, length: number): TensorData {
  return new (like.constructor as Ctor)(length);
}

/** A new array of `src`'s element type holding `src[index[i]]` at i (gathers, transposes, broadcasts). */
export function takeElements(src: TensorData, index: ArrayLike<number>): TensorData {
  const out = emptyLike(src, index.length) as unknown as { [i: number]: number | bigint };
  const from = src as unknown as { readonly [i: number]: number | bigint };
  for (let i = 0; i < index.length; i++) out[i] = from[index[i]!]!;
  return out as unknown as TensorData;
}

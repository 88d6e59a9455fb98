import { ShrinkError } from '@shrink/core';
import type { ResolvedQuantizeOptions } from './options.js';

/** How 8-bit weights are stored by the dynamic and static passes. */
export interface WeightFormat {
  readonly type: 'int8' | 'uint8';
  /** int8 is symmetric (zero point 0, as onnxruntime's quantizer writes it); uint8 is asymmetric. */
  readonly symmetric: boolean;
  /** 7-bit codes (onnxruntime's reduce_range). */
  readonly reduceRange: boolean;
}

/**
 * q8's weights when nothing else is asked. It must be right on every CPU the file may meet: x86 u8s8
 * kernels without VNNI (AVX2, AVX-512 before VNNI) add int8 x uint8 products in saturating int16 pairs,
 * which full-range int8 weights overflow. uint8 weights take the u8u8 kernels, exact everywhere.
 */
export const Q8_DEFAULT: WeightFormat = { type: 'uint8', symmetric: false, reduceRange: false };

/** The stored weight format of an 8-bit run: dtype's own type, or q8's default, changed by weightType/reduceRange. */
export function weightFormat(o: Pick<ResolvedQuantizeOptions, 'dtype' | 'weightType' | 'reduceRange'>): WeightFormat {
  const implied = o.dtype === 'int8' || o.dtype === 'uint8' ? o.dtype : undefined;
  if (implied && o.weightType && o.weightType !== implied) {
    throw new ShrinkError('INVALID_ARGUMENT', `dtype ${o.dtype} stores ${implied} weights; weightType ${o.weightType} contradicts it (use dtype q8 to choose the weight type)`);
  }
  const type = o.weightType ?? implied ?? Q8_DEFAULT.type;
  const reduceRange = o.reduceRange ?? (o.dtype === 'q8' && o.weightType === undefined ? Q8_DEFAULT.reduceRange : false);
  return { type, symmetric: type === 'int8', reduceRange };
}

/** The format in words, for reports: "int8 symmetric 7-bit (reduce range)". */
export function describeWeightFormat(f: WeightFormat): string {
  return `${f.type} ${f.symmetric ? 'symmetric' : 'asymmetric'}${f.reduceRange ? ' 7-bit (reduced range)' : ''}`;
}

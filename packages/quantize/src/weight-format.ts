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
 * which full-range int8 weights overflow. Both remedies onnxruntime names are exact everywhere; measured
 * (BENCHMARKS.md, weight formats): 7-bit int8 keeps the u8s8 kernels' speed (0.145x fp32 at batch 32 on
 * the MLP, as full-range int8) where uint8 weights take the u8u8 kernels (0.357x), and costs at most 0.1
 * accuracy point on the trained presets. So int8 weights are 7-bit unless full range is asked for.
 */
export const Q8_DEFAULT: WeightFormat = { type: 'int8', symmetric: true, reduceRange: true };

/** The stored weight format of an 8-bit run: dtype's own type, or q8's default, changed by weightType/reduceRange. */
export function weightFormat(o: Pick<ResolvedQuantizeOptions, 'dtype' | 'weightType' | 'reduceRange'>): WeightFormat {
  const implied = o.dtype === 'int8' || o.dtype === 'uint8' ? o.dtype : undefined;
  if (implied && o.weightType && o.weightType !== implied) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `dtype ${o.dtype} stores ${implied} weights; weightType ${o.weightType} contradicts it (use dtype q8 to choose the weight type)`,
    );
  }
  const type = o.weightType ?? implied ?? Q8_DEFAULT.type;
  // Full-range int8 is right only on some CPUs: it has to be asked for (reduceRange false).
  const reduceRange = o.reduceRange ?? type === 'int8';
  return { type, symmetric: type === 'int8', reduceRange };
}

/** The format in words, for reports: "int8 symmetric 7-bit (reduce range)". */
export function describeWeightFormat(f: WeightFormat): string {
  return `${f.type} ${f.symmetric ? 'symmetric' : 'asymmetric'}${f.reduceRange ? ' 7-bit (reduced range)' : ''}`;
}

/**
 * What these weights mean on the CPUs that will run them, for the report: full-range int8 is exact only
 * where the u8s8 kernels sum in int32 (VNNI, AMX, ARM, WASM). `here` is this machine's kernel path.
 */
export function portabilityNote(f: WeightFormat, here: { isa: string; instruction: string; int8Saturates: boolean | undefined }): string {
  const kernels = `int8 kernels on this machine: ${here.isa} (${here.instruction})`;
  if (f.type === 'int8' && !f.reduceRange) {
    if (here.int8Saturates === true) {
      return `${kernels}: full-range int8 weights saturate its int16 pair sums and lose accuracy HERE (see the fidelity rows); 7-bit int8 (reduceRange) or uint8 weights are exact on every CPU`;
    }
    return `${kernels}: exact here, but x86 CPUs without VNNI (AVX2, AVX-512 before VNNI) saturate full-range int8 weights and lose accuracy; 7-bit int8 (reduceRange) or uint8 weights are exact on every CPU`;
  }
  return `${kernels}; ${describeWeightFormat(f)} weights are exact on every CPU (no int16 saturation on x86 without VNNI)`;
}

/**
 * How MatMulNBits weights are quantized, by algorithm (the `algo` option). Each one turns B [K, N] into
 * MatMulNBits blocks; a new algorithm (GPTQ, HQQ) is one file exporting such a function and one entry
 * here, and the option takes its name from this table.
 */
import { quantizeBlockwise, type BlockwiseOptions, type BlockwiseWeights } from './nbits-blocks.js';

/** B [K, N] (row-major, as a MatMul's second input) -> packed codes, scales and zero points per block. */
export type WeightQuantizer = (b: Float32Array, K: number, N: number, opts: BlockwiseOptions) => BlockwiseWeights;

export const WEIGHT_QUANTIZERS = {
  /** Round to nearest: each block's values on the grid its min/max (or largest magnitude) spans. */
  rtn: quantizeBlockwise,
} as const satisfies Record<string, WeightQuantizer>;

export type WeightAlgo = keyof typeof WEIGHT_QUANTIZERS;

export const WEIGHT_ALGOS = Object.keys(WEIGHT_QUANTIZERS) as [WeightAlgo, ...WeightAlgo[]];

/**
 * How MatMulNBits weights are quantized, by algorithm (the `algo` option). Each one turns B [K, N] into
 * MatMulNBits blocks; a new algorithm is one file exporting such a function and one entry here, and the
 * option takes its name from this table. What an algorithm knows besides the weight comes in a per-node
 * context: GPTQ's Hessian of the node's input activations (gathered by gptq-hessians.ts before planning).
 */
import { quantizeGptq } from './gptq.js';
import { quantizeHqq } from './hqq.js';
import { quantizeKQuant } from './kquant.js';
import { quantizeBlockwise, type BlockwiseOptions, type BlockwiseWeights } from './nbits-blocks.js';

/** What one node tells its weight's quantizer. */
export interface WeightContext {
  /** X^T X (any positive multiple) of the node's input X [tokens, K], row-major [K, K]. */
  readonly hessian?: Float64Array;
}

/** B [K, N] (row-major, as a MatMul's second input) -> packed codes, scales and zero points per block. */
export type WeightQuantizer = (b: Float32Array, K: number, N: number, opts: BlockwiseOptions, context?: WeightContext) => BlockwiseWeights;

export const WEIGHT_QUANTIZERS = {
  /** Round to nearest: each block's values on the grid its min/max (or largest magnitude) spans. */
  rtn: quantizeBlockwise,
  /**
   * GPTQ: rounding errors pushed onto the rows not yet quantized, weighted by the calibration Hessian. A
   * node without one (a weight in an If/Loop body, whose input cannot be read out) is rounded to nearest.
   */
  gptq: (b, K, N, opts, context) => (context?.hessian ? quantizeGptq(b, K, N, opts, context.hessian) : quantizeBlockwise(b, K, N, opts)),
  /** HQQ: per-block zero points fitted to an lp (p < 1) weight error, no data; always asymmetric. */
  hqq: (b, K, N, opts) => quantizeHqq(b, K, N, opts),
  /** k-quant-style: per block, the scale (and integer zero point) of the best of 20 grids by weighted least squares; no data. */
  kquant: (b, K, N, opts) => quantizeKQuant(b, K, N, opts),
} as const satisfies Record<string, WeightQuantizer>;

export type WeightAlgo = keyof typeof WEIGHT_QUANTIZERS;

export const WEIGHT_ALGOS = Object.keys(WEIGHT_QUANTIZERS) as [WeightAlgo, ...WeightAlgo[]];

/** The algorithm where no calibration activations are at hand (mixed precision's trials, the streamed path): GPTQ's is rtn. */
export function dataFreeAlgo(algo: WeightAlgo): Exclude<WeightAlgo, 'gptq'> {
  return algo === 'gptq' ? 'rtn' : algo;
}

/**
 * The algorithm of a lookup's own table (GatherBlockQuantized): rtn unless the algorithm needs neither
 * activations (GPTQ's, which a lookup of token ids has none of) nor float zero points (HQQ's, which
 * GatherBlockQuantized does not take).
 */
export function lookupAlgo(algo: WeightAlgo): 'rtn' | 'kquant' {
  return algo === 'kquant' ? 'kquant' : 'rtn';
}

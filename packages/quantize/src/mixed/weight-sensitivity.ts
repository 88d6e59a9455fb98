/**
 * What each weight the weight-only pass would store costs and loses at each bit width: the candidates of
 * allocateBits. The loss is the weight's relative output error, sum_k h_k sum_n dW[k,n]^2 over
 * sum_k h_k sum_n W[k,n]^2, with h the diagonal of the calibration Hessian X^T X of the weight's input
 * (llama.cpp's importance matrix is the same diagonal) or all ones without data (plain weight error).
 * Errors come from rounding to nearest (hqq from its own fit): GPTQ lowers every level's error, and
 * running it once per level for a choice would double its cost.
 */
import type { onnx } from '@shrink/core';
import { dequantizeBlockwise, storedBits, type BlockwiseWeights, type GridBits } from '../ops/nbits-blocks.js';
import type { NBitsPlan } from '../ops/nbits-types.js';
import { dataFreeAlgo, WEIGHT_QUANTIZERS } from '../ops/weight-quantizers.js';
import type { ResolvedQuantizeOptions } from '../options.js';
import { weightOnlyPlans } from '../weight-only-plans.js';
import type { BitsCandidate } from './allocate-bits.js';

export type SensitivityOptions = Pick<ResolvedQuantizeOptions, 'blockSize' | 'symmetric' | 'algo' | 'include' | 'exclude'> & {
  /** The lowest level: --bits. */
  bits: GridBits;
  /** Scales as stored: float16 for q4f16 and float16 weights. */
  float16?: boolean;
};

/** Levels above the asked bits a weight may be raised to: the stored widths onnxruntime runs (nbits-blocks.ts). */
export function bitLevels(bits: GridBits): GridBits[] {
  return [bits, ...([4, 8] as const).filter((b) => b > bits)];
}

const storedBytes = (q: BlockwiseWeights, scaleBytes: number): number =>
  q.packed.byteLength +
  q.scales.length * scaleBytes +
  (q.zeroPoints instanceof Float32Array ? q.zeroPoints.length * scaleBytes : (q.zeroPoints?.byteLength ?? 0));

/** The relative output error of B's blocks, weighting input row k by h[k]. */
export function relativeError(w: Float32Array, q: BlockwiseWeights, h?: ArrayLike<number>): number {
  const d = dequantizeBlockwise(q);
  const { K, N } = q;
  let err = 0;
  let sig = 0;
  for (let k = 0; k < K; k++) {
    const hk = h ? Math.max(h[k]!, 0) : 1;
    let e = 0;
    let s = 0;
    for (let n = 0; n < N; n++) {
      const v = w[k * N + n]!;
      const r = v - d[k * N + n]!;
      e += r * r;
      s += v * v;
    }
    err += hk * e;
    sig += hk * s;
  }
  return sig > 0 ? err / sig : 0;
}

/**
 * The main graph's planned weights, one per key, with each level's bytes and error. If/Loop bodies are not
 * candidates: their weights stay at the asked bits.
 */
export function bitsCandidates(
  model: onnx.IModelProto,
  o: SensitivityOptions,
  /** Mean square of each input channel (the Hessian diagonal), by input name. */
  importance?: ReadonlyMap<string, Float64Array>,
): BitsCandidate[] {
  const plans = new Map<string, { plan: NBitsPlan; input?: string }>();
  const readers = new Map<string, string[]>();
  for (const { node, plan } of weightOnlyPlans(model, o)) {
    const names = readers.get(plan.weight.key) ?? [];
    names.push(node.name || node.output[0]!);
    readers.set(plan.weight.key, names);
    const seen = plans.get(plan.weight.key);
    // A table read by a head and a lookup: the head's input says how its errors are weighed.
    if (!seen || (seen.plan.lookup && !plan.lookup)) plans.set(plan.weight.key, { plan, ...(plan.lookup ? {} : { input: plan.input }) });
  }
  const quantize = WEIGHT_QUANTIZERS[dataFreeAlgo(o.algo)];
  const out: BitsCandidate[] = [];
  for (const { plan, input } of plans.values()) {
    const w = plan.weight;
    const scaleBytes = o.float16 || w.floatType === 'float16' ? 2 : 4;
    const d = input !== undefined ? importance?.get(input) : undefined;
    const h = d && d.length === w.K ? d : undefined;
    const levels = bitLevels(o.bits).map((bits) => {
      const q = quantize(w.data, w.K, w.N, { bits, blockSize: o.blockSize, symmetric: o.symmetric, name: w.source });
      return { bits, storedBits: storedBits(bits), bytes: storedBytes(q, scaleBytes), error: relativeError(w.data, q, h) };
    });
    out.push({ key: w.key, label: w.source, elements: w.K * w.N, nodes: readers.get(w.key) ?? [], levels });
  }
  return out;
}

/**
 * How closely a candidate reproduces a baseline's outputs on the same samples, independent of labels:
 * the numbers that tell whether quantization or pruning changed what the model computes.
 */
import { progressOf, type Ctx } from '../context.js';
import { ShrinkError } from '../errors.js';
import type { Dataset } from '../data/dataset.js';
import { batchSize, pickOutput } from './evaluate.js';
import { feedsFor, planInput } from './feeds.js';
import type { Session } from './session.js';
import { argmaxRow, outputRows } from './tensors.js';
import { klDivergence, rowsAreDistributions, softmax } from '../measure/divergence.js';

export interface FidelityOptions {
  batch?: number;
  /** Output compared in each model (first output by default); a pair names them separately. */
  output?: string | readonly [string, string];
  input?: string | readonly [string, string];
}

export interface FidelityResult {
  readonly n: number;
  /** Share of samples where both models pick the same top-1 class (classification datasets only). */
  readonly top1Agreement?: number;
  readonly maxAbsError: number;
  /** Mean over every output value. */
  readonly meanAbsError: number;
  /** Cosine similarity of the two output vectors, averaged over samples (1 when both are all zeros). */
  readonly cosineSimilarity: number;
  /**
   * Mean KL(baseline || candidate) in nats over samples, classification with 2+ outputs only. Each model
   * is judged once, on its first batch: if every row is a distribution its outputs are probabilities and
   * used as they are, otherwise they are logits and go through a softmax.
   */
  readonly meanKL?: number;
}

const pair = <T>(v: T | readonly [T, T] | undefined): [T | undefined, T | undefined] =>
  Array.isArray(v) ? [v[0], v[1]] : [v as T | undefined, v as T | undefined];

export async function fidelity(
  baseline: Session,
  candidate: Session,
  dataset: Dataset,
  opts: FidelityOptions = {},
  ctx?: Ctx,
): Promise<FidelityResult> {
  if (dataset.n === 0) throw new ShrinkError('INVALID_DATA', `dataset '${dataset.name}' has no samples to compare on`);
  const [inA, inB] = pair(opts.input);
  const [outA, outB] = pair(opts.output);
  const planA = planInput(baseline, dataset, inA);
  const planB = planInput(candidate, dataset, inB);
  const nameA = pickOutput(baseline, outA);
  const nameB = pickOutput(candidate, outB);
  const batch = batchSize(opts.batch, planA.fixedBatch, planB.fixedBatch);
  const classify = dataset.task === 'classification';
  const progress = progressOf(ctx);
  let agree = 0;
  let maxAbs = 0;
  let sumAbs = 0;
  let values = 0;
  let cosSum = 0;
  let klSum = 0;
  let outWidth: number | undefined;
  let probsA: boolean | undefined;
  let probsB: boolean | undefined;
  progress.start(`fidelity on ${dataset.name}`, dataset.n);
  try {
    for (let start = 0; start < dataset.n; start += batch) {
      ctx?.signal?.throwIfAborted();
      const count = Math.min(batch, dataset.n - start);
      const fa = feedsFor(planA, dataset, start, count);
      const fb = feedsFor(planB, dataset, start, count);
      const ra = await baseline.run(fa.feeds, [nameA]);
      const rb = await candidate.run(fb.feeds, [nameB]);
      const a = outputRows(ra[nameA]!, fa.rows, `${baseline.source}: output '${nameA}'`);
      const b = outputRows(rb[nameB]!, fb.rows, `${candidate.source}: output '${nameB}'`);
      if (a.width !== b.width) {
        throw new ShrinkError(
          'INVALID_DATA',
          `outputs differ in size: ${baseline.source} '${nameA}' has ${a.width} values per sample, ${candidate.source} '${nameB}' has ${b.width}`,
        );
      }
      const w = a.width;
      outWidth = w;
      for (let i = 0; i < count; i++) {
        const o = i * w;
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let j = o; j < o + w; j++) {
          const x = a.data[j]!;
          const y = b.data[j]!;
          const d = Math.abs(x - y);
          if (d > maxAbs || Number.isNaN(d)) maxAbs = d;
          sumAbs += d;
          dot += x * y;
          na += x * x;
          nb += y * y;
        }
        values += w;
        cosSum += na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
        if (classify) {
          if (argmaxRow(a.data, o, w) === argmaxRow(b.data, o, w)) agree++;
          probsA ??= rowsAreDistributions(a.data, w);
          probsB ??= rowsAreDistributions(b.data, w);
          const ra = a.data.subarray(o, o + w);
          const rb = b.data.subarray(o, o + w);
          if (w >= 2) klSum += klDivergence(probsA ? ra : softmax(ra), probsB ? rb : softmax(rb));
        }
      }
      progress.tick(count);
    }
  } finally {
    progress.stop();
  }
  const n = dataset.n;
  return {
    n,
    ...(classify ? { top1Agreement: agree / n } : {}),
    ...(classify && (outWidth ?? 0) >= 2 ? { meanKL: klSum / n } : {}),
    maxAbsError: maxAbs,
    meanAbsError: sumAbs / values,
    cosineSimilarity: cosSum / n,
  };
}

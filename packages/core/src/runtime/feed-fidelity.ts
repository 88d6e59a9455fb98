/**
 * Fidelity on a feed set: every output of the baseline against the candidate's output of the same name,
 * each compared as one vector over all samples (cosine, relative L2, max abs). For models a dataset
 * cannot feed: token ids and masks, several inputs, state tensors.
 */
import { progressOf, type Ctx } from '../context.js';
import { ShrinkError } from '../errors.js';
import type { Session } from './session.js';
import type { FeedSet } from './synthetic-feeds.js';
import { pairedValues, silence, VectorSums, worstOutput, type FidelityResult, type OutputFidelity } from './fidelity.js';

/** Outputs both models have: by name, or by position when none share a name and the counts agree. */
function pairedOutputs(a: Session, b: Session): Array<[string, string]> {
  const byName = a.outputNames.filter((n) => b.outputNames.includes(n)).map((n): [string, string] => [n, n]);
  if (byName.length > 0 || a.outputNames.length !== b.outputNames.length) return byName;
  return a.outputNames.map((n, i): [string, string] => [n, b.outputNames[i]!]);
}

export interface FeedFidelityOptions {
  /** Time after which no further sample is started once `minSamples` are done (20 s). */
  readonly maxTimeMs?: number;
  /** Samples compared whatever the time (2, or all when fewer). */
  readonly minSamples?: number;
}

/**
 * Every output compared over the feed set's samples, within a time budget: a model whose run takes
 * seconds is compared on a few samples (`n` says how many), not left running for minutes.
 */
export async function fidelityOnFeeds(
  baseline: Session,
  candidate: Session,
  set: FeedSet,
  ctx?: Ctx,
  opts: FeedFidelityOptions = {},
): Promise<FidelityResult> {
  if (set.samples.length === 0) throw new ShrinkError('INVALID_DATA', `${set.name}: no samples to compare on`);
  const pairs = pairedOutputs(baseline, candidate);
  if (pairs.length === 0) {
    throw new ShrinkError(
      'INVALID_MODEL',
      `${candidate.source}: no output matches the baseline's (${baseline.outputNames.join(', ')}) by name or position, so they cannot be compared`,
    );
  }
  const sums = pairs.map(() => new VectorSums());
  let sumAbs = 0;
  let values = 0;
  const progress = progressOf(ctx);
  progress.start(`fidelity on ${set.samples.length} sample sets`, set.samples.length);
  const maxTimeMs = opts.maxTimeMs ?? 20_000;
  const minSamples = opts.minSamples ?? 2;
  const t0 = performance.now();
  let n = 0;
  try {
    for (const feeds of set.samples) {
      if (n >= minSamples && performance.now() - t0 > maxTimeMs) break;
      ctx?.signal?.throwIfAborted();
      n++;
      const ra = await baseline.run(
        feeds,
        pairs.map((p) => p[0]),
      );
      const rb = await candidate.run(
        feeds,
        pairs.map((p) => p[1]),
      );
      pairs.forEach(([oa, ob], k) => {
        const [x, y] = pairedValues(baseline, candidate, ra, rb, oa, ob);
        sums[k]!.add(x, y);
        if (k === 0) {
          for (let j = 0; j < x.length; j++) sumAbs += Math.abs(x[j]! - y[j]!);
          values += x.length;
        }
      });
      progress.tick(1);
    }
  } finally {
    progress.stop();
  }
  const outputs: OutputFidelity[] = pairs.map(([oa], k) => ({
    name: oa,
    cosineSimilarity: sums[k]!.cosine(),
    maxAbsError: sums[k]!.maxAbs,
    relativeL2: sums[k]!.relativeL2(),
  }));
  const quiet = sums.map((s) => silence(s.peak, s.min));
  return {
    n,
    ...worstOutput(outputs),
    meanAbsError: values === 0 ? 0 : sumAbs / values,
    outputs,
    // Every output silent: nothing these inputs make tells the models apart.
    baselineSilent: quiet.every((q) => q !== undefined),
    baselinePeak: Math.max(...sums.map((s) => s.peak)),
    ...(quiet.every((q) => q !== undefined) ? { baselineSilence: [...new Set(quiet)].join('; ') } : {}),
  };
}

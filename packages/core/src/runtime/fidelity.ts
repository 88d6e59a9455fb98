/**
 * How closely a candidate reproduces a baseline's outputs on the same samples, independent of labels:
 * the numbers that tell whether quantization or pruning changed what the model computes.
 */
import { progressOf, type Ctx } from '../context.js';
import { ShrinkError } from '../errors.js';
import type { Dataset } from '../data/dataset.js';
import { batchSize, pickOutput } from './evaluate.js';
import { feedsFor, planInput } from './feeds.js';
import type { Outputs, Session } from './session.js';
import { argmaxRow, outputRows, tensorToFloat32 } from './tensors.js';
import { klDivergence, rowsAreDistributions, softmax } from '../measure/divergence.js';
import { cosine } from '../measure/cosine.js';

export interface FidelityOptions {
  batch?: number;
  /** Output compared in each model (first output by default); a pair names them separately. */
  output?: string | readonly [string, string];
  input?: string | readonly [string, string];
}

export interface OutputFidelity {
  /** The output's name in the baseline (and in the candidate, unless the pair was given by position). */
  readonly name: string;
  readonly cosineSimilarity: number;
  readonly maxAbsError: number;
  /** ||candidate - baseline|| / ||baseline|| over every value of the output (0 when both are zero). */
  readonly relativeL2: number;
}

export interface FidelityResult {
  readonly n: number;
  /** Share of samples where both models pick the same top-1 class (classification datasets only). */
  readonly top1Agreement?: number;
  /** Largest difference over every compared output. */
  readonly maxAbsError: number;
  /** The worst output's relative L2 error. */
  readonly relativeL2: number;
  /** Mean over every value of the main output. */
  readonly meanAbsError: number;
  /**
   * The worst output's cosine similarity. The main output's is averaged over samples (1 when both are
   * all zeros); on classification data, rows of logits are compared after a softmax (as probabilities);
   * a main output of one value per sample, and every other output, is compared as one vector over all
   * samples (a per-sample cosine of single numbers would only compare signs).
   */
  readonly cosineSimilarity: number;
  /**
   * Mean KL(baseline || candidate) in nats over samples, classification with 2+ outputs only. Each model
   * is judged once, on its first batch: if every row is a distribution its outputs are probabilities and
   * used as they are, otherwise they are logits and go through a softmax.
   */
  readonly meanKL?: number;
  /** Every compared output, the main one first. */
  readonly outputs: readonly OutputFidelity[];
  /**
   * The baseline's main output (every output, on a feed set) carried no signal on these inputs: all
   * zeros, within ±SILENT_PEAK, or a map of probabilities that never reaches SILENT_PROBABILITY (a text
   * detector on random pixels finds no text). Such inputs cannot tell the models apart, whatever the
   * cosine says.
   */
  readonly baselineSilent: boolean;
  /** Largest |value| of the baseline's main output (of every output, on a feed set). */
  readonly baselinePeak: number;
  /** How the silent output looked ('all zeros', 'within ±1e-4 (peak …)', …), when baselineSilent. */
  readonly baselineSilence?: string;
}

/** Below this peak an output carries no signal to compare, whatever its kind. */
export const SILENT_PEAK = 1e-4;
/**
 * Values all in [0, 1] that never reach this are a probability map of "nothing here": a detector's
 * sigmoid map on random pixels peaks at 1e-5 to 3e-4, on a page of text near 1.
 */
export const SILENT_PROBABILITY = 0.01;

/** Why a baseline output with these extremes says nothing, or undefined when it carries a signal. */
export function silence(peak: number, min: number): string | undefined {
  if (peak === 0) return 'all zeros';
  if (peak < SILENT_PEAK) return `within ±${SILENT_PEAK} (peak ${peak.toPrecision(2)})`;
  if (min >= 0 && peak < SILENT_PROBABILITY)
    return `a map of values in [0, ${SILENT_PROBABILITY}) (peak ${peak.toPrecision(2)}): probabilities of nothing`;
  return undefined;
}

const pair = <T>(v: T | readonly [T, T] | undefined): [T | undefined, T | undefined] =>
  Array.isArray(v) ? [(v as readonly [T, T])[0], (v as readonly [T, T])[1]] : [v as T | undefined, v as T | undefined];

/** One output of each model's run as float32 values, refused when their sizes differ. */
export function pairedValues(
  baseline: Session,
  candidate: Session,
  ra: Outputs,
  rb: Outputs,
  oa: string,
  ob: string,
): [Float32Array, Float32Array] {
  const x = tensorToFloat32(ra[oa]!, `${baseline.source}: output '${oa}'`);
  const y = tensorToFloat32(rb[ob]!, `${candidate.source}: output '${ob}'`);
  if (x.length !== y.length) {
    throw new ShrinkError(
      'INVALID_DATA',
      `outputs differ in size: ${baseline.source} '${oa}' has ${x.length} values, ${candidate.source} '${ob}' has ${y.length}`,
    );
  }
  return [x, y];
}

/** The worst of every output's numbers (NaN anywhere stays NaN): what the guard and the report's rows judge. */
export function worstOutput(outputs: readonly OutputFidelity[]): Pick<FidelityResult, 'cosineSimilarity' | 'maxAbsError' | 'relativeL2'> {
  const worst = (f: (o: OutputFidelity) => number, pick: (x: number, y: number) => number) =>
    outputs.map(f).reduce((x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : pick(x, y)));
  return {
    cosineSimilarity: worst((o) => o.cosineSimilarity, Math.min),
    maxAbsError: worst((o) => o.maxAbsError, Math.max),
    relativeL2: worst((o) => o.relativeL2, Math.max),
  };
}

/** Outputs besides the main one that both models have: by name, or by position when none share a name. */
function otherOutputs(baseline: Session, candidate: Session, mainA: string, mainB: string): Array<[string, string]> {
  const restA = baseline.outputNames.filter((n) => n !== mainA);
  const restB = candidate.outputNames.filter((n) => n !== mainB);
  const byName = restA.filter((n) => restB.includes(n)).map((n): [string, string] => [n, n]);
  if (byName.length > 0 || restA.length !== restB.length) return byName;
  return restA.map((n, i): [string, string] => [n, restB[i]!]);
}

/** Dims of a batch of class-score rows: besides the batch axis, at most one axis longer than 1. */
function classScores(dims: readonly number[]): boolean {
  return dims.slice(1).filter((d) => d > 1).length <= 1;
}

/** Running sums of one output compared as a single vector. */
export class VectorSums {
  dot = 0;
  na = 0;
  nb = 0;
  maxAbs = 0;
  sqDiff = 0;
  /** Largest |a| and smallest a. */
  peak = 0;
  min = Infinity;

  add(a: ArrayLike<number>, b: ArrayLike<number>): void {
    for (let j = 0; j < a.length; j++) {
      const x = a[j]!;
      const y = b[j]!;
      const d = Math.abs(x - y);
      if (d > this.maxAbs || Number.isNaN(d)) this.maxAbs = d;
      if (Math.abs(x) > this.peak) this.peak = Math.abs(x);
      if (x < this.min) this.min = x;
      this.sqDiff += d * d;
      this.dot += x * y;
      this.na += x * x;
      this.nb += y * y;
    }
  }

  cosine(): number {
    return this.na === 0 && this.nb === 0 ? 1 : this.na === 0 || this.nb === 0 ? 0 : this.dot / Math.sqrt(this.na * this.nb);
  }

  relativeL2(): number {
    return this.sqDiff === 0 ? 0 : Math.sqrt(this.sqDiff / this.na);
  }
}

/**
 * How closely `candidate` reproduces `baseline` on the same samples. With no `output` option every output
 * both models have is compared (the guard must see a broken second output too); the main output (the
 * first, or the one named) also gives top-1 agreement and KL on classification data.
 */
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
  const others = opts.output === undefined ? otherOutputs(baseline, candidate, nameA, nameB) : [];
  const otherSums = others.map(() => new VectorSums());
  const batch = batchSize(opts.batch, planA.fixedBatch, planB.fixedBatch);
  // Class scores only where the data is classification and the output is a row of scores per sample
  // ([N, C], [N, 1, C], ...): a map or a sequence has no top-1 class, and a softmax over its values is
  // meaningless. Decided from the first batch's output.
  let classify: boolean | undefined;
  const progress = progressOf(ctx);
  let agree = 0;
  let sumAbs = 0;
  let values = 0;
  let cosSum = 0;
  let klSum = 0;
  const column = new VectorSums();
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
      const ra = await baseline.run(fa.feeds, [nameA, ...others.map((o) => o[0])]);
      const rb = await candidate.run(fb.feeds, [nameB, ...others.map((o) => o[1])]);
      const a = outputRows(ra[nameA]!, fa.rows, `${baseline.source}: output '${nameA}'`);
      const b = outputRows(rb[nameB]!, fb.rows, `${candidate.source}: output '${nameB}'`);
      if (a.width !== b.width) {
        throw new ShrinkError(
          'INVALID_DATA',
          `outputs differ in size: ${baseline.source} '${nameA}' has ${a.width} values per sample, ${candidate.source} '${nameB}' has ${b.width}`,
        );
      }
      others.forEach(([oa, ob], k) => {
        const [x, y] = pairedValues(baseline, candidate, ra, rb, oa, ob);
        otherSums[k]!.add(x, y);
      });
      const w = a.width;
      outWidth = w;
      classify ??= dataset.task === 'classification' && classScores(ra[nameA]!.dims);
      column.add(a.data, b.data);
      for (let i = 0; i < count; i++) {
        const o = i * w;
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let j = o; j < o + w; j++) {
          const x = a.data[j]!;
          const y = b.data[j]!;
          sumAbs += Math.abs(x - y);
          dot += x * y;
          na += x * x;
          nb += y * y;
        }
        values += w;
        let cos = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
        if (classify) {
          if (argmaxRow(a.data, o, w) === argmaxRow(b.data, o, w)) agree++;
          probsA ??= rowsAreDistributions(a.data, w);
          probsB ??= rowsAreDistributions(b.data, w);
          if (w >= 2) {
            const pa = probsA ? a.data.subarray(o, o + w) : softmax(a.data.subarray(o, o + w));
            const pb = probsB ? b.data.subarray(o, o + w) : softmax(b.data.subarray(o, o + w));
            klSum += klDivergence(pa, pb);
            // Class scores are compared as the distributions they stand for: logits shifted or scaled by
            // fine-tuning rank and classify alike, and a cosine of raw logits would call that broken.
            if (!probsA || !probsB) cos = cosine(pa, pb);
          }
        }
        cosSum += cos;
      }
      progress.tick(count);
    }
  } finally {
    progress.stop();
  }
  const n = dataset.n;
  const outputs: OutputFidelity[] = [
    {
      name: nameA,
      cosineSimilarity: outWidth === 1 ? column.cosine() : cosSum / n,
      maxAbsError: column.maxAbs,
      relativeL2: column.relativeL2(),
    },
    ...others.map(([oa], k) => ({
      name: oa,
      cosineSimilarity: otherSums[k]!.cosine(),
      maxAbsError: otherSums[k]!.maxAbs,
      relativeL2: otherSums[k]!.relativeL2(),
    })),
  ];
  return {
    n,
    ...(classify === true ? { top1Agreement: agree / n } : {}),
    ...(classify === true && (outWidth ?? 0) >= 2 ? { meanKL: klSum / n } : {}),
    ...worstOutput(outputs),
    meanAbsError: sumAbs / values,
    outputs,
    baselineSilent: silence(column.peak, column.min) !== undefined,
    baselinePeak: column.peak,
    ...(silence(column.peak, column.min) !== undefined ? { baselineSilence: silence(column.peak, column.min)! } : {}),
  };
}

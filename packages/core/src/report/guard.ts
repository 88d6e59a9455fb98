/**
 * The fidelity guard: after any pass, a candidate that no longer computes what its baseline computed is
 * a failure, whatever it saves in bytes or milliseconds. Floors are deliberately loose (a broken model,
 * not a slightly worse one); gates are where a team sets its own thresholds.
 */
import { ShrinkError } from '../errors.js';
import { formatValue } from './format.js';
import type { CandidateReport, MetricValue } from './report.js';

export interface FidelityFloors {
  /** Mean cosine similarity of the outputs to the baseline's, below which the candidate fails. */
  readonly minCosine: number;
  /** Share of samples where both pick the same class (classification), below which it fails. */
  readonly minTop1Agreement: number;
  /** Accuracy the candidate may lose against the baseline, as a fraction (0.10 = 10 points). */
  readonly maxAccuracyDrop: number;
  /**
   * Language models: relative perplexity increase over the baseline above which the candidate fails (1 =
   * perplexity doubled). Next-token top-1 agreement (`lm.top1Agreement`) is held to minTop1Agreement.
   */
  readonly maxPerplexityIncrease?: number;
}

export const DEFAULT_FLOORS: FidelityFloors = { minCosine: 0.9, minTop1Agreement: 0.5, maxAccuracyDrop: 0.1, maxPerplexityIncrease: 1 };

export interface GuardFailure {
  /** Metric key as in the report ('fidelity.cosineSimilarity', 'fidelity.top1Agreement', 'accuracy'). */
  readonly metric: string;
  readonly value: number;
  readonly floor: number;
  /** One phrase, e.g. 'cosine similarity 0.491 < 0.9'. */
  readonly text: string;
}

export interface GuardResult {
  readonly passed: boolean;
  readonly failures: readonly GuardFailure[];
  readonly floors: FidelityFloors;
  /** Metric keys the guard could read (a report without fidelity rows cannot pass it silently). */
  readonly checked: readonly string[];
  /** Why fidelity could not be judged (then `passed` only means nothing failed): renderers say so. */
  readonly unjudged?: string;
}

const pct = (v: number) => formatValue(v, 'fraction');

/**
 * The guard over a candidate's metric rows (fidelity to the baseline, accuracy delta). On synthetic inputs
 * (`opts.synthetic`) top-1 agreement is not judged: a trained classifier gives near-uniform scores on
 * random inputs, whose top class flips with any rounding, so the floor would refuse sound models.
 */
export function checkFloors(
  metrics: Readonly<Record<string, MetricValue>>,
  floors: FidelityFloors = DEFAULT_FLOORS,
  opts: { synthetic?: boolean; unjudged?: string } = {},
): GuardResult {
  const failures: GuardFailure[] = [];
  const checked: string[] = [];
  const cos = metrics['fidelity.cosineSimilarity']?.candidate;
  if (cos !== undefined) {
    checked.push('fidelity.cosineSimilarity');
    if (cos < floors.minCosine)
      failures.push({
        metric: 'fidelity.cosineSimilarity',
        value: cos,
        floor: floors.minCosine,
        text: `cosine similarity ${cos.toFixed(3)} < ${floors.minCosine}`,
      });
  }
  const agree = metrics['fidelity.top1Agreement']?.candidate;
  if (agree !== undefined && opts.synthetic !== true) {
    checked.push('fidelity.top1Agreement');
    if (agree < floors.minTop1Agreement) {
      failures.push({
        metric: 'fidelity.top1Agreement',
        value: agree,
        floor: floors.minTop1Agreement,
        text: `top-1 agreement ${pct(agree)} < ${pct(floors.minTop1Agreement)}`,
      });
    }
  }
  const acc = metrics['accuracy'];
  if (acc?.delta !== undefined) {
    checked.push('accuracy');
    if (-acc.delta > floors.maxAccuracyDrop) {
      failures.push({
        metric: 'accuracy',
        value: acc.delta,
        floor: -floors.maxAccuracyDrop,
        text: `accuracy ${pct(acc.baseline!)} -> ${pct(acc.candidate!)} (${(acc.delta * 100).toFixed(1)} points, more than ${(floors.maxAccuracyDrop * 100).toFixed(0)} lost)`,
      });
    }
  }
  // Language-model rows (runtime/lm-eval.ts): measured on real tokens, never synthetic.
  const lmAgree = metrics['lm.top1Agreement']?.candidate;
  if (lmAgree !== undefined) {
    checked.push('lm.top1Agreement');
    if (lmAgree < floors.minTop1Agreement)
      failures.push({
        metric: 'lm.top1Agreement',
        value: lmAgree,
        floor: floors.minTop1Agreement,
        text: `next-token top-1 agreement ${pct(lmAgree)} < ${pct(floors.minTop1Agreement)}`,
      });
  }
  const ppl = metrics['lm.perplexity'];
  const maxUp = floors.maxPerplexityIncrease ?? DEFAULT_FLOORS.maxPerplexityIncrease!;
  if (ppl?.ratio !== undefined) {
    checked.push('lm.perplexity');
    if (ppl.ratio - 1 > maxUp)
      failures.push({
        metric: 'lm.perplexity',
        value: ppl.ratio - 1,
        floor: maxUp,
        text: `perplexity ${ppl.baseline!.toPrecision(4)} -> ${ppl.candidate!.toPrecision(4)} (+${((ppl.ratio - 1) * 100).toFixed(1)}%, more than +${(maxUp * 100).toFixed(0)}%)`,
      });
  }
  const unjudged = checked.length === 0 ? (opts.unjudged ?? 'no fidelity metric was measured') : undefined;
  return { passed: failures.length === 0, failures, floors, checked, ...(unjudged !== undefined ? { unjudged } : {}) };
}

/**
 * The guard with limits a pass was asked to hold and missed (PassOutput.unmet) as failures too: a model
 * beyond the user's own `maxAccuracyDrop` or fidelity floor is refused like one below the guard's floors.
 */
export function withUnmetLimits(guard: GuardResult | undefined, unmet: readonly GuardFailure[] | undefined): GuardResult | undefined {
  if (!unmet || unmet.length === 0) return guard;
  return {
    floors: guard?.floors ?? DEFAULT_FLOORS,
    checked: [...new Set([...(guard?.checked ?? []), ...unmet.map((f) => f.metric)])],
    failures: [...(guard?.failures ?? []), ...unmet],
    passed: false,
  };
}

/** 'cosine similarity 0.491 < 0.9; top-1 agreement 12.0% < 50.0%' */
export function guardText(g: Pick<GuardResult, 'failures'>): string {
  return g.failures.map((f) => f.text).join('; ');
}

/**
 * A candidate failed the fidelity guard: nothing is written (exit 2). `candidate` and `failures` say
 * which and why, so front ends can word it their way (a flag to override it, a pipeline step's name).
 */
export class DegradedModelError extends ShrinkError {
  constructor(
    readonly candidate: string,
    readonly failures: readonly GuardFailure[],
    where?: string,
    /** What became of the model, e.g. 'nothing written' (the default) or 'its model was removed'. */
    consequence = 'nothing written',
  ) {
    super(
      'DEGRADED',
      `${where ? `${where}: ` : ''}${candidate} fails the fidelity floor against the baseline: ${guardText({ failures })}; ${consequence}`,
    );
  }
}

/** Throws DegradedModelError for the first candidate whose guard failed, unless degraded models are allowed. */
export function refuseDegraded(
  candidates: readonly Pick<CandidateReport, 'name' | 'guard'>[],
  opts: { allow?: boolean; where?: string; consequence?: string } = {},
): void {
  if (opts.allow) return;
  const bad = candidates.find((c) => c.guard && !c.guard.passed);
  if (bad) throw new DegradedModelError(bad.name, bad.guard!.failures, opts.where, opts.consequence);
}

/**
 * One line per candidate whose guard failed, or could not judge it: what every renderer puts first, so no
 * table reads as "better" for a model nobody checked.
 */
export function degradedLines(candidates: readonly Pick<CandidateReport, 'name' | 'guard'>[]): string[] {
  const out: string[] = [];
  for (const c of candidates) {
    if (c.guard && !c.guard.passed) out.push(`${c.name} FAILED the fidelity guard: ${guardText(c.guard)}`);
    else if (c.guard?.unjudged !== undefined) out.push(`${c.name}: fidelity NOT judged: ${c.guard.unjudged}`);
  }
  return out;
}

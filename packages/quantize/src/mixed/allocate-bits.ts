/**
 * Per-weight bit widths under a budget, the knapsack behind `targetBits` and `sizeBudget`: every weight
 * starts at its lowest level and the upgrade with the largest drop in error per unit of budget is taken
 * next, while it fits (the greedy ratio rule; HAWQ-style allocation with a layer-error proxy for the
 * Hessian trace). Errors are each weight's own relative output error, which adds up roughly across layers
 * of a residual network: a small, sensitive projection is upgraded before a large, tolerant one.
 */
import type { GridBits } from '../ops/nbits-blocks.js';

/** One stored weight (a key: tied or shared weights are one) and what each bit width would cost and lose. */
export interface BitsCandidate {
  readonly key: string;
  /** What reports call it (its source tensor). */
  readonly label: string;
  readonly elements: number;
  /** The nodes reading it (their names as include takes them), to quantize it alone when measuring. */
  readonly nodes?: readonly string[];
  /** Ascending bits; error is non-increasing in practice but not assumed. */
  readonly levels: ReadonlyArray<{ readonly bits: GridBits; readonly storedBits: number; readonly bytes: number; readonly error: number }>;
}

/** What the budget counts: stored code bits (per weight, averaged over all candidates) or bytes. */
export type BitsBudget = { readonly kind: 'bits'; readonly average: number } | { readonly kind: 'bytes'; readonly bytes: number };

export interface BitsAllocation {
  /** Chosen bits by weight key. */
  readonly bits: ReadonlyMap<string, GridBits>;
  /** Stored code bits per weight, averaged over every candidate (scales not counted). */
  readonly averageBits: number;
  /** Bytes of every candidate's codes, scales and zero points. */
  readonly bytes: number;
  /** Labels of the weights above the lowest level, most valuable upgrade first. */
  readonly upgraded: readonly string[];
  /** Sum of the candidates' errors before and after the upgrades. */
  readonly errorBefore: number;
  readonly errorAfter: number;
}

const spend = (budget: BitsBudget, c: BitsCandidate, from: number, to: number): number => {
  const a = c.levels[from]!;
  const b = c.levels[to]!;
  return budget.kind === 'bits' ? (b.storedBits - a.storedBits) * c.elements : b.bytes - a.bytes;
};

/** Greedy allocation; every candidate gets at least its lowest level, even when that alone is over budget. */
export function allocateBits(candidates: readonly BitsCandidate[], budget: BitsBudget): BitsAllocation {
  const level = candidates.map(() => 0);
  const elements = candidates.reduce((s, c) => s + c.elements, 0);
  const limit = budget.kind === 'bits' ? budget.average * elements : budget.bytes;
  const used = (): number =>
    budget.kind === 'bits'
      ? candidates.reduce((s, c, i) => s + c.levels[level[i]!]!.storedBits * c.elements, 0)
      : candidates.reduce((s, c, i) => s + c.levels[level[i]!]!.bytes, 0);
  let total = used();
  const upgraded: string[] = [];
  for (;;) {
    let best = -1;
    let bestTo = 0;
    let bestRatio = 0;
    candidates.forEach((c, i) => {
      const from = level[i]!;
      // Any higher level may be the next step (3 -> 4 bits can cost nothing when 3 is stored in 4-bit codes).
      for (let to = from + 1; to < c.levels.length; to++) {
        const cost = spend(budget, c, from, to);
        const gain = c.levels[from]!.error - c.levels[to]!.error;
        if (gain <= 0 || total + cost > limit + 1e-9) continue;
        const ratio = cost <= 0 ? Infinity : gain / cost;
        if (ratio > bestRatio) {
          best = i;
          bestTo = to;
          bestRatio = ratio;
        }
      }
    });
    if (best < 0) break;
    const c = candidates[best]!;
    total += spend(budget, c, level[best]!, bestTo);
    if (level[best] === 0) upgraded.push(c.label);
    level[best] = bestTo;
  }
  const bits = new Map<string, GridBits>(candidates.map((c, i) => [c.key, c.levels[level[i]!]!.bits]));
  const storedTotal = candidates.reduce((s, c, i) => s + c.levels[level[i]!]!.storedBits * c.elements, 0);
  return {
    bits,
    averageBits: elements > 0 ? storedTotal / elements : 0,
    bytes: candidates.reduce((s, c, i) => s + c.levels[level[i]!]!.bytes, 0),
    upgraded,
    errorBefore: candidates.reduce((s, c) => s + c.levels[0]!.error, 0),
    errorAfter: candidates.reduce((s, c, i) => s + c.levels[level[i]!]!.error, 0),
  };
}

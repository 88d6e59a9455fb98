/**
 * Language-model scores over next-token logits, as llama.cpp's perplexity tool reports them: perplexity
 * (exp of the mean negative log-likelihood of the true next token), mean KL(baseline || candidate) of the
 * next-token distributions, and top-1 agreement (share of positions where both models' most likely next
 * token is the same). Sums are float64 and streamed window by window, so memory stays one window.
 */

/** log-softmax of `width` logits starting at `offset`, in float64 (the max is subtracted first). */
export function logSoftmaxRow(
  logits: ArrayLike<number>,
  offset: number,
  width: number,
  out: Float64Array = new Float64Array(width),
): Float64Array {
  let max = -Infinity;
  for (let j = 0; j < width; j++) max = Math.max(max, logits[offset + j]!);
  let sum = 0;
  for (let j = 0; j < width; j++) sum += Math.exp(logits[offset + j]! - max);
  const lse = max + Math.log(sum);
  for (let j = 0; j < width; j++) out[j] = logits[offset + j]! - lse;
  return out;
}

/** Index of the largest of `width` values from `offset`, the first on ties (as numpy and llama.cpp's std::max_element). */
function argmax(values: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  let bestV = values[offset]!;
  for (let j = 1; j < width; j++) {
    const v = values[offset + j]!;
    if (v > bestV) {
      bestV = v;
      best = j;
    }
  }
  return best;
}

/** Scores of one model over the positions it was scored on. */
export interface LmScore {
  /** Positions scored (each predicts one token). */
  readonly tokens: number;
  /** Mean negative log-likelihood of the true next token, nats. */
  readonly meanNll: number;
  /** exp(meanNll). */
  readonly perplexity: number;
}

/** A candidate's scores against a baseline over the same positions. */
export interface LmComparison {
  readonly tokens: number;
  readonly baseline: LmScore;
  readonly candidate: LmScore;
  /** Mean over positions of KL(baseline || candidate) of the next-token distributions, nats. */
  readonly meanKL: number;
  /** Largest KL of one position, nats (where the candidate strays most). */
  readonly maxKL: number;
  /** Share of positions where both models' top next token is the same. */
  readonly top1Agreement: number;
}

function score(nll: number, tokens: number): LmScore {
  const meanNll = tokens > 0 ? nll / tokens : NaN;
  return { tokens, meanNll, perplexity: Math.exp(meanNll) };
}

/**
 * Streams windows of logits ([positions, vocab], row i predicting `targets[i]`) into the three numbers.
 * Give `candidate` logits to every call or to none: then only the baseline's perplexity is kept.
 */
export class LmAccumulator {
  private tokens = 0;
  private nllA = 0;
  private nllB = 0;
  private kl = 0;
  private maxKl = 0;
  private agree = 0;
  private compared = 0;
  private readonly la: Float64Array;
  private readonly lb: Float64Array;

  constructor(readonly vocab: number) {
    this.la = new Float64Array(vocab);
    this.lb = new Float64Array(vocab);
  }

  /**
   * Rows `from` (inclusive) to `to` (exclusive) of a window: `baseline` and `candidate` hold `vocab` logits
   * per row; row i's true next token is `targets[i]`.
   */
  add(baseline: ArrayLike<number>, targets: ArrayLike<number>, from: number, to: number, candidate?: ArrayLike<number>): void {
    const v = this.vocab;
    for (let i = from; i < to; i++) {
      const t = targets[i]!;
      if (!(t >= 0 && t < v)) throw new RangeError(`target token ${t} at row ${i} is outside the vocabulary 0..${v - 1}`);
      const la = logSoftmaxRow(baseline, i * v, v, this.la);
      this.nllA -= la[t]!;
      this.tokens++;
      if (candidate === undefined) continue;
      const lb = logSoftmaxRow(candidate, i * v, v, this.lb);
      this.nllB -= lb[t]!;
      // KL(p || q) = sum p (log p - log q); exp(-inf) = 0 drops the terms the baseline rules out.
      let kl = 0;
      for (let j = 0; j < v; j++) {
        const p = Math.exp(la[j]!);
        if (p > 0) kl += p * (la[j]! - lb[j]!);
      }
      // Rounding can make a KL of equal distributions a hair below 0; it is 0 then.
      kl = Math.max(kl, 0);
      this.kl += kl;
      if (kl > this.maxKl) this.maxKl = kl;
      if (argmax(baseline, i * v, v) === argmax(candidate, i * v, v)) this.agree++;
      this.compared++;
    }
  }

  /** The baseline's (or the only model's) perplexity so far. */
  score(): LmScore {
    return score(this.nllA, this.tokens);
  }

  /** Both models' scores, KL and top-1 agreement so far; undefined when no candidate logits were given. */
  comparison(): LmComparison | undefined {
    if (this.compared === 0 || this.compared !== this.tokens) return undefined;
    const n = this.compared;
    return {
      tokens: n,
      baseline: score(this.nllA, n),
      candidate: score(this.nllB, n),
      meanKL: this.kl / n,
      maxKL: this.maxKl,
      top1Agreement: this.agree / n,
    };
  }
}

/**
 * Latency with warm-up, many runs and percentiles; A/B comparison interleaved in one process so drift
 * (thermal throttling, turbo, other load) hits both models alike and their ratio stays honest.
 */
import * as ort from 'onnxruntime-node';
import { progressOf, type Ctx } from '../context.js';
import { ShrinkError } from '../errors.js';
import { summarize } from '../measure/stats.js';
import type { Feeds, Session } from './session.js';

export interface LatencyOptions {
  /** Untimed runs first, so allocation, caches and lazy init are paid before measuring (5). */
  warmup?: number;
  /** Timed runs (50); in compareLatency, timed pairs. */
  runs?: number;
  /**
   * Optional time budget for the timed runs; stops early once it is spent and `minRuns` are done. Warm-up
   * stops after a quarter of it (one warm-up run at least): a model whose run takes seconds is timed a few
   * times, not 110.
   */
  maxTimeMs?: number;
  /** Fewest timed runs under a time budget (min(5, runs)). */
  minRuns?: number;
  /** Samples per run, for throughput; the first dim of the first feed by default. */
  batch?: number;
  /**
   * compareLatency: runs per turn (1). With k > 1 each pair is k runs of one session, then k of the other,
   * each side's time the median of its k: with intra-op spinning on, a session's threads keep spinning
   * after its run and slow the other session's next run, which strict alternation would charge to it.
   */
  block?: number;
}

export interface LatencyResult {
  /** Milliseconds per run (one batch). */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
  readonly stdev: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
  readonly batch: number;
  /** batch / median (p50) run time. */
  readonly throughputPerSec: number;
  readonly method: string;
}

export interface LatencyComparison {
  readonly a: LatencyResult;
  readonly b: LatencyResult;
  /** Per-pair b/a time ratios: below 1 means b is faster. */
  readonly ratio: { readonly p10: number; readonly p50: number; readonly p90: number; readonly mean: number };
  readonly pairs: number;
  /** Pairs in which b took longer than a. */
  readonly slowerPairs: number;
  readonly method: string;
}

/** Pairs below which no claim of "slower" is made: a handful of pairs is noise on a busy machine. */
export const MIN_PAIRS_FOR_A_CLAIM = 10;

/**
 * Whether b is slower than a beyond doubt: slower in at least 90 % of at least MIN_PAIRS_FOR_A_CLAIM
 * interleaved pairs. Then the paired ratio and the two medians agree, so a note saying so cannot
 * contradict the table.
 */
export function clearlySlower(c: Pick<LatencyComparison, 'ratio' | 'pairs'>): boolean {
  return c.pairs >= MIN_PAIRS_FOR_A_CLAIM && c.ratio.p10 > 1;
}

/**
 * How far apart two sessions of the same model measured on a 2-core machine (fp32 against a copy of
 * itself, 400 interleaved pairs: 0.987x and 0.993x, issue #14): a median ratio within 2 % is the
 * instrument, whatever the sign test says.
 */
export const SAME_MODEL_OFFSET = 1.02;

/**
 * Whether b is slower than a at all, beyond noise: a sign test over the pairs. With no difference, each
 * pair is slower with probability 1/2; more slower pairs than that allows at one-sided 99 % (z 2.326)
 * means b is slower, when its median ratio is also above SAME_MODEL_OFFSET. For a change that costs
 * nothing to undo.
 */
export function probablySlower(c: Pick<LatencyComparison, 'ratio' | 'pairs' | 'slowerPairs'>): boolean {
  if (c.pairs < MIN_PAIRS_FOR_A_CLAIM || !(c.ratio.p50 > SAME_MODEL_OFFSET)) return false;
  return c.slowerPairs > c.pairs / 2 + (2.326 * Math.sqrt(c.pairs)) / 2;
}

interface Plan {
  warmup: number;
  runs: number;
  minRuns: number;
  maxTimeMs: number;
}

function plan(opts: LatencyOptions): Plan {
  const warmup = opts.warmup ?? 5;
  const runs = opts.runs ?? 50;
  if (!Number.isInteger(warmup) || warmup < 0)
    throw new ShrinkError('INVALID_ARGUMENT', `latency warmup must be an integer >= 0, got ${warmup}`);
  if (!Number.isInteger(runs) || runs < 1) throw new ShrinkError('INVALID_ARGUMENT', `latency runs must be an integer >= 1, got ${runs}`);
  const maxTimeMs = opts.maxTimeMs ?? Infinity;
  if (!(maxTimeMs > 0)) throw new ShrinkError('INVALID_ARGUMENT', `latency maxTimeMs must be > 0, got ${maxTimeMs}`);
  return { warmup, runs, minRuns: Math.min(opts.minRuns ?? 5, runs), maxTimeMs };
}

function batchOf(ortFeeds: Record<string, ort.Tensor>, batch: number | undefined): number {
  if (batch !== undefined) {
    if (!Number.isInteger(batch) || batch < 1)
      throw new ShrinkError('INVALID_ARGUMENT', `latency batch must be a positive integer, got ${batch}`);
    return batch;
  }
  const first = Object.values(ortFeeds)[0];
  return first?.dims[0] ?? 1;
}

/** Wall time of one raw onnxruntime run in ms (feeds already converted, so only inference is timed). */
async function timeRun(s: Session, feeds: Record<string, ort.Tensor>): Promise<number> {
  const t0 = process.hrtime.bigint();
  try {
    await s.ort.run(feeds);
  } catch (e) {
    throw new ShrinkError(
      'RUNTIME',
      `${s.source}: onnxruntime failed during latency runs: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
      { cause: e },
    );
  }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function result(times: readonly number[], batch: number, method: string): LatencyResult {
  const s = summarize(times, 'latency');
  return {
    p50: s.p50,
    p90: s.p90,
    p99: s.p99,
    mean: s.mean,
    stdev: s.stdev,
    min: s.min,
    max: s.max,
    runs: s.n,
    batch,
    // The median run, as for latency and energy: one long pause in the mean would decide the figure.
    throughputPerSec: (batch * 1000) / s.p50,
    method,
  };
}

function describe(s: Session, p: Plan, warm: number, runs: number, batch: number, what: string): string {
  const threads =
    s.threads === undefined ? "onnxruntime's default intra-op threads" : `${s.threads} intra-op thread${s.threads === 1 ? '' : 's'}`;
  const budget = runs < p.runs || warm < p.warmup ? `; stopped by the ${p.maxTimeMs / 1000} s time budget (--runs N times exactly N)` : '';
  return `${s.runtime ?? `onnxruntime-node ${ort.env.versions.node ?? ''} CPU, ${threads}`}, batch ${batch}, ${warm} warm-up + ${runs} ${what}, wall time per run (hrtime)${budget}`;
}

export async function measureLatency(session: Session, feeds: Feeds, opts: LatencyOptions = {}, ctx?: Ctx): Promise<LatencyResult> {
  const p = plan(opts);
  const ortFeeds = session.toOrtFeeds(feeds);
  const batch = batchOf(ortFeeds, opts.batch);
  const progress = progressOf(ctx);
  progress.start(`latency ${session.source}`, p.warmup + p.runs);
  const times: number[] = [];
  let warm = 0;
  try {
    for (const w0 = performance.now(); warm < p.warmup && !(warm > 0 && performance.now() - w0 > p.maxTimeMs / 4); warm++) {
      ctx?.signal?.throwIfAborted();
      await timeRun(session, ortFeeds);
      progress.tick();
    }
    const t0 = performance.now();
    while (times.length < p.runs && !(times.length >= p.minRuns && performance.now() - t0 > p.maxTimeMs)) {
      ctx?.signal?.throwIfAborted();
      times.push(await timeRun(session, ortFeeds));
      progress.tick();
    }
  } finally {
    progress.stop();
  }
  return result(times, batch, describe(session, p, warm, times.length, batch, 'timed runs'));
}

/**
 * Times `a` and `b` interleaved in alternating order (a b, b a, a b, ...) so neither always runs
 * first, and reports each one's summary plus the distribution of per-pair b/a ratios.
 * `feedsB` defaults to `feedsA` (same input names).
 */
export async function compareLatency(
  a: Session,
  b: Session,
  feedsA: Feeds,
  feedsB: Feeds = feedsA,
  opts: LatencyOptions = {},
  ctx?: Ctx,
): Promise<LatencyComparison> {
  const p = plan(opts);
  const fa = a.toOrtFeeds(feedsA);
  const fb = b.toOrtFeeds(feedsB);
  const batch = batchOf(fa, opts.batch);
  const progress = progressOf(ctx);
  progress.start(`latency ${a.source} vs ${b.source}`, p.warmup + p.runs);
  const ta: number[] = [];
  const tb: number[] = [];
  const ratios: number[] = [];
  const k = opts.block ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new ShrinkError('INVALID_ARGUMENT', `latency block must be a positive integer, got ${k}`);
  const turn = async (s: Session, f: Record<string, ort.Tensor>): Promise<number> => {
    if (k === 1) return timeRun(s, f);
    const t: number[] = [];
    for (let i = 0; i < k; i++) t.push(await timeRun(s, f));
    return summarize(t, 'latency').p50;
  };
  let warm = 0;
  try {
    for (const w0 = performance.now(); warm < p.warmup && !(warm > 0 && performance.now() - w0 > p.maxTimeMs / 4); warm++) {
      ctx?.signal?.throwIfAborted();
      await timeRun(a, fa);
      await timeRun(b, fb);
      progress.tick();
    }
    const t0 = performance.now();
    while (ta.length < p.runs && !(ta.length >= p.minRuns && performance.now() - t0 > p.maxTimeMs)) {
      ctx?.signal?.throwIfAborted();
      let x: number;
      let y: number;
      if (ta.length % 2 === 0) {
        x = await turn(a, fa);
        y = await turn(b, fb);
      } else {
        y = await turn(b, fb);
        x = await turn(a, fa);
      }
      ta.push(x);
      tb.push(y);
      // A zero reading (clock granularity) would make the ratio infinite; such a pair carries no information.
      if (x > 0) ratios.push(y / x);
      progress.tick();
    }
  } finally {
    progress.stop();
  }
  const pairs = ta.length;
  const slowerPairs = ratios.filter((r) => r > 1).length;
  if (ratios.length === 0)
    throw new ShrinkError('RUNTIME', `${a.source}: every timed run read 0 ms; the clock cannot resolve this model's latency`);
  const r = summarize(ratios, 'latency ratio');
  const threadsNote = a.threads === b.threads ? '' : ` (B: ${b.threads ?? 'default'} intra-op threads)`;
  const unit = k === 1 ? 'timed pairs' : `timed pairs of ${k}-run turns (each turn's median)`;
  const method = `interleaved A/B (alternating order), ${describe(a, p, warm, pairs, batch, unit)}${threadsNote}; ratio = per-pair B/A`;
  return {
    a: result(ta, batch, method),
    b: result(tb, batch, method),
    ratio: { p10: r.p10, p50: r.p50, p90: r.p90, mean: r.mean },
    pairs,
    slowerPairs,
    method,
  };
}

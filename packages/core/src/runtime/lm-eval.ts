/**
 * Language-model evaluation in onnxruntime: perplexity of one model, or of a baseline and a candidate
 * with mean KL and top-1 agreement of their next-token distributions, window by window over token rows.
 *
 * Windows: each row is cut into windows of `context` tokens starting every `stride` tokens (default
 * context / 2). A token is scored once, by the first window that holds it and the token before it, so a
 * scored token past the first window has at least context - stride tokens of left context (Hugging Face's
 * sliding-window convention). The first token of a row is never scored (nothing predicts it), nor a token
 * a stride of `context` leaves at a window's start. Windows never cross rows.
 */
import type { Ctx } from '../context.js';
import { loggerOf, progressOf } from '../context.js';
import { ShrinkError } from '../errors.js';
import { LmAccumulator, type LmComparison, type LmScore } from '../measure/lm-metrics.js';
import type { TokenRows } from '../data/lm-tokens.js';
import { logitsVocab, planLm, type LmPlan } from './lm-feeds.js';
import { createSession, type ModelSource, type Session } from './session.js';
import { tensorToFloat32 } from './tensors.js';

export const DEFAULT_LM_CONTEXT = 128;

export interface LmEvalOptions {
  /** Tokens per window; default the model's fixed sequence length, else 128. */
  context?: number;
  /** Tokens between window starts; default context / 2 (rounded up). */
  stride?: number;
  /** Stop after this many windows (the first ones, in row order). */
  maxWindows?: number;
  /** Stop starting new windows after this many seconds; the result says so. */
  budgetSeconds?: number;
  threads?: number;
}

export interface LmEvalResult {
  /** The token source's name. */
  readonly data: string;
  readonly context: number;
  readonly stride: number;
  /** Windows run, and windows the data makes. */
  readonly windows: number;
  readonly windowsTotal: number;
  /** Tokens scored. */
  readonly tokens: number;
  /** The model's perplexity (the baseline's, when comparing). */
  readonly score: LmScore;
  /** Against the baseline, when a candidate was given. */
  readonly comparison?: LmComparison;
  /** Why it stopped before the last window, if it did. */
  readonly stopped?: string;
  /** The convention in words, for reports. */
  readonly method: string;
}

export interface LmModel {
  readonly model: ModelSource;
  /** How messages name it (its path). */
  readonly label: string;
}

interface Window {
  readonly row: number;
  readonly begin: number;
  readonly end: number;
  /** First scored absolute position (its token is predicted by the logits at position - 1). */
  readonly from: number;
}

/** The windows of `rows` in order (see the module comment for which tokens each scores). */
export function lmWindows(rows: readonly Int32Array[], context: number, stride: number): Window[] {
  const out: Window[] = [];
  rows.forEach((r, row) => {
    let prevEnd = 0;
    for (let begin = 0; ; begin += stride) {
      const end = Math.min(begin + context, r.length);
      const from = Math.max(prevEnd, begin + 1);
      if (from < end) out.push({ row, begin, end, from });
      prevEnd = end;
      if (end >= r.length) break;
    }
  });
  return out;
}

function positive(v: number | undefined, option: string): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1))
    throw new ShrinkError('INVALID_ARGUMENT', `expected a positive integer, got ${v}`, { option });
}

/** Context and stride from the options and what the models fix. */
function windowing(plans: readonly LmPlan[], sessions: readonly Session[], opts: LmEvalOptions): { context: number; stride: number } {
  positive(opts.context, 'context');
  positive(opts.stride, 'stride');
  positive(opts.maxWindows, 'maxWindows');
  const fixed = plans.map((p, i) => [p.fixedSeq, sessions[i]!.source] as const).filter(([f]) => f !== undefined);
  const first = fixed[0];
  const other = fixed.find(([f]) => f !== first?.[0]);
  if (first && other)
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `${first[1]} fixes the sequence at ${first[0]} tokens and ${other[1]} at ${other[0]}; compared models need the same window`,
    );
  if (first && opts.context !== undefined && opts.context !== first[0])
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `${first[1]} takes input_ids of exactly ${first[0]} tokens; the context must be ${first[0]}, got ${opts.context}`,
      { option: 'context' },
    );
  const context = opts.context ?? first?.[0] ?? DEFAULT_LM_CONTEXT;
  if (context < 2)
    throw new ShrinkError('INVALID_ARGUMENT', `a window needs 2 or more tokens to score one; got ${context}`, { option: 'context' });
  const stride = opts.stride ?? Math.ceil(context / 2);
  if (stride > context)
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `the stride (${stride}) is longer than the context (${context}): tokens between windows would be skipped`,
      { option: 'stride' },
    );
  return { context, stride };
}

/** The vocabulary the logits give, checked against the tokens' largest id (ids past it name the file and place). */
function checkVocab(vocab: number, tokens: TokenRows, s: Session): void {
  if (tokens.maxId >= vocab)
    throw new ShrinkError(
      'INVALID_DATA',
      `${tokens.source}${tokens.maxAt} is ${tokens.maxId}, outside the vocabulary of ${s.source} (${vocab} logits: ids 0..${vocab - 1})`,
      { option: 'tokens' },
    );
}

/**
 * Scores `models[0]` on `tokens`; with a second model, scores both on the same windows and compares the
 * second (candidate) with the first (baseline). Sessions are created and released here.
 */
export async function evaluateLm(
  models: readonly LmModel[],
  tokens: TokenRows,
  opts: LmEvalOptions = {},
  ctx?: Ctx,
): Promise<LmEvalResult> {
  if (models.length !== 1 && models.length !== 2)
    throw new ShrinkError('INVALID_ARGUMENT', `an LM evaluation takes one model or a baseline and a candidate, got ${models.length}`);
  const sessions: Session[] = [];
  try {
    for (const m of models)
      sessions.push(
        await createSession(m.model, { label: m.label, ...(opts.threads !== undefined ? { threads: opts.threads } : {}) }, ctx),
      );
    const plans = sessions.map(planLm);
    const { context, stride } = windowing(plans, sessions, opts);
    const fixedSeq = plans[0]!.fixedSeq;
    let vocab: number | undefined;
    plans.forEach((p, i) => {
      if (p.vocab === undefined) return;
      if (vocab !== undefined && p.vocab !== vocab)
        throw new ShrinkError(
          'UNSUPPORTED_MODEL',
          `${sessions[i]!.source} has ${p.vocab} logits per token but ${sessions[0]!.source} has ${vocab}; compared models need the same vocabulary`,
        );
      vocab = p.vocab;
      checkVocab(p.vocab, tokens, sessions[i]!);
    });

    const all = lmWindows(tokens.rows, context, stride);
    const windows = opts.maxWindows !== undefined ? all.slice(0, opts.maxWindows) : all;
    const progress = progressOf(ctx);
    const t0 = performance.now();
    let acc: LmAccumulator | undefined;
    let done = 0;
    let stopped: string | undefined;
    progress.start(`LM eval (${windows.length} windows of ${context})`, windows.length);
    try {
      for (const w of windows) {
        if (ctx?.signal?.aborted) throw new ShrinkError('RUNTIME', 'LM evaluation aborted');
        if (opts.budgetSeconds !== undefined && done > 0 && (performance.now() - t0) / 1000 > opts.budgetSeconds) {
          stopped = `time budget of ${opts.budgetSeconds} s reached after ${done} of ${windows.length} windows`;
          break;
        }
        const win = tokens.rows[w.row]!.subarray(w.begin, w.end);
        const length = fixedSeq ?? win.length;
        const logits: Float32Array[] = [];
        for (let i = 0; i < sessions.length; i++) {
          const s = sessions[i]!;
          const name = plans[i]!.logits;
          const t = (await s.run(plans[i]!.feeds(win, length), [name]))[name]!;
          const v = logitsVocab(s, t, name, length);
          if (vocab === undefined) {
            vocab = v;
            checkVocab(v, tokens, s);
          } else if (v !== vocab)
            throw new ShrinkError(
              'UNSUPPORTED_MODEL',
              `${s.source} gave ${v} logits per token where ${vocab} were expected; compared models need the same vocabulary`,
            );
          logits.push(tensorToFloat32(t, `${s.source} output '${name}'`));
        }
        acc ??= new LmAccumulator(vocab!);
        // Window position k predicts the token at k + 1: rows from - 1 .. end - 2 (window-relative).
        const targets = win.subarray(1);
        acc.add(logits[0]!, targets, w.from - 1 - w.begin, w.end - 1 - w.begin, logits[1]);
        done++;
        progress.tick(1);
      }
    } finally {
      progress.stop();
    }
    if (acc === undefined) throw new ShrinkError('INVALID_DATA', `${tokens.source}: no window to score`, { option: 'tokens' });
    if (stopped === undefined && windows.length < all.length) stopped = `first ${windows.length} of ${all.length} windows (max windows)`;
    const score = acc.score();
    const comparison = acc.comparison();
    const method = `${score.tokens} tokens of ${tokens.name} in ${done} windows of ${context} (stride ${stride}), each token scored once`;
    loggerOf(ctx).debug(`LM eval: ${method}${stopped ? `; ${stopped}` : ''}`);
    return {
      data: tokens.name,
      context,
      stride,
      windows: done,
      windowsTotal: all.length,
      tokens: score.tokens,
      score,
      ...(comparison !== undefined ? { comparison } : {}),
      ...(stopped !== undefined ? { stopped } : {}),
      method,
    };
  } finally {
    for (const s of sessions) await s.release();
  }
}

/**
 * GPTQ's Hessians: X^T X / tokens of the input X [tokens, K] of every MatMul/Gemm the weight-only pass
 * will quantize, from the float model run in onnxruntime on the calibration set. Activations are held for
 * one input at a time: the calibration feeds are run once per input with only that value fetched, its
 * rows are summed into a float64 K x K matrix, and the activation is dropped before the next run. The
 * Hessians themselves (8 K^2 bytes each, one per distinct input: q, k and v projections share theirs) are
 * what is kept for planning.
 *
 * Only top-level nodes: a value inside an If/Loop body cannot be made a graph output; those weights are
 * rounded to nearest (the pass says how many).
 */
import { progressOf, ShrinkError, type Ctx, type onnx } from '@shrink/core';
import { createSession, exposeIntermediates, feedsFor, planInput, tensorToFloat32, type Feeds, type Session } from '@shrink/core/runtime';
import { calibrationMissing } from '../check-options.js';
import type { NBitsPlan } from '../ops/nbits-types.js';
import { weightOnlyPlans } from '../weight-only-plans.js';
import type { BlockwiseWeights, GridBits } from '../ops/nbits-blocks.js';
import { quantizeGptq } from '../ops/gptq.js';
import type { ResolvedQuantizeOptions } from '../options.js';
import { isFeedSet, type CalibrationSet } from './calibrate.js';

/** The inputs (by value name) of the nodes the weight-only pass would quantize, with their K. */
export function gptqInputs(model: onnx.IModelProto, o: Pick<ResolvedQuantizeOptions, 'include' | 'exclude'>): Map<string, number> {
  const inputs = new Map<string, number>();
  // A lookup's input is token ids, not activations: GPTQ has nothing to weigh an embedding table by.
  for (const { plan } of weightOnlyPlans(model, o)) if (!plan.lookup) inputs.set(plan.input, plan.weight.K);
  return inputs;
}

export interface HessianOptions {
  /** Calibration samples (runs of a feed set, rows of a dataset) used at most. */
  samples: number;
  /** Dataset rows per run. Default 16. */
  batch?: number;
}

export interface Hessians {
  /** X^T X / tokens by input name, row-major [K, K]. */
  readonly hessians: Map<string, Float64Array>;
  /** Samples run per input. */
  readonly samples: number;
  /** Activation rows (tokens) summed per input, by name. */
  readonly tokens: Map<string, number>;
}

/**
 * Adds the rows of x [rows, K] into the upper triangle of h, 64 rows at a time: each chunk is transposed so
 * every entry of h is one contiguous dot product per chunk (h, 8 MB at K = 1024, is then swept once per
 * chunk instead of once per row).
 */
function accumulate(h: Float64Array, x: Float32Array, K: number, rows: number): void {
  const R = 64;
  const xt = new Float64Array(K * R);
  for (let r0 = 0; r0 < rows; r0 += R) {
    const n = Math.min(R, rows - r0);
    for (let r = 0; r < n; r++) {
      const o = (r0 + r) * K;
      for (let i = 0; i < K; i++) xt[i * R + r] = x[o + i]!;
    }
    for (let i = 0; i < K; i++) {
      const a = i * R;
      const hi = i * K;
      let j = i;
      // Four entries per sweep of row i's chunk: a quarter of the loads of xt[a + r].
      for (; j + 3 < K; j += 4) {
        const b = j * R;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let r = 0; r < n; r++) {
          const v = xt[a + r]!;
          s0 += v * xt[b + r]!;
          s1 += v * xt[b + R + r]!;
          s2 += v * xt[b + 2 * R + r]!;
          s3 += v * xt[b + 3 * R + r]!;
        }
        h[hi + j] = h[hi + j]! + s0;
        h[hi + j + 1] = h[hi + j + 1]! + s1;
        h[hi + j + 2] = h[hi + j + 2]! + s2;
        h[hi + j + 3] = h[hi + j + 3]! + s3;
      }
      for (; j < K; j++) {
        const b = j * R;
        let s = 0;
        for (let r = 0; r < n; r++) s += xt[a + r]! * xt[b + r]!;
        h[hi + j] = h[hi + j]! + s;
      }
    }
  }
}

/** A graph input's value in the feeds, as float32. */
function fedValue(feeds: Feeds, name: string): Float32Array | undefined {
  const f = feeds[name];
  if (!f) return undefined;
  if ('dispose' in f) return tensorToFloat32(f, `input '${name}'`);
  const data = f.data;
  return data instanceof Float32Array ? data : data instanceof Float64Array ? Float32Array.from(data) : undefined;
}

/** Runs `model` on `calibration` and returns X^T X / tokens of each input gptqInputs lists. */
export async function gatherHessians(
  model: onnx.IModelProto,
  calibration: CalibrationSet,
  o: Pick<ResolvedQuantizeOptions, 'include' | 'exclude'>,
  opts: HessianOptions,
  ctx?: Ctx,
  /** Takes each Hessian as it is made, which is then not kept: one K x K matrix is held at a time. */
  each?: (name: string, h: Float64Array) => void,
): Promise<Hessians> {
  const inputs = gptqInputs(model, o);
  const hessians = new Map<string, Float64Array>();
  const tokens = new Map<string, number>();
  const total = isFeedSet(calibration) ? calibration.samples.length : calibration.n;
  const n = Math.min(opts.samples, total);
  if (n === 0) {
    throw new ShrinkError('CALIBRATION_EMPTY', `calibration data '${calibration.name}' has no samples; gptq needs at least one`, {
      option: 'calibData',
    });
  }
  if (inputs.size === 0) return { hessians, samples: 0, tokens };
  const graphInputs = new Set((model.graph?.input ?? []).map((v) => v.name ?? ''));
  const exposed = [...inputs.keys()].filter((name) => !graphInputs.has(name));
  const session: Session = await createSession(exposeIntermediates(model, exposed), { label: 'GPTQ calibration model' }, ctx);
  const progress = progressOf(ctx);
  try {
    const plan = isFeedSet(calibration) ? undefined : planInput(session, calibration);
    const step = plan ? Math.min(opts.batch ?? 16, plan.fixedBatch ?? opts.batch ?? 16) : 1;
    const runs = Math.ceil(n / step);
    progress.start(`GPTQ Hessians (${inputs.size} inputs x ${runs} runs)`, inputs.size * runs);
    for (const [name, K] of inputs) {
      const h = new Float64Array(K * K);
      let rows = 0;
      for (let start = 0; start < n; start += step) {
        ctx?.signal?.throwIfAborted();
        const count = Math.min(step, n - start);
        let feeds: Feeds;
        let batchRows = 1;
        if (plan) {
          const f = feedsFor(plan, calibration as Exclude<CalibrationSet, { samples: unknown }>, start, count);
          feeds = f.feeds;
          batchRows = f.rows;
        } else feeds = (calibration as { samples: readonly Feeds[] }).samples[start]!;
        let x = graphInputs.has(name) ? fedValue(feeds, name) : undefined;
        let dims: readonly number[] | undefined;
        if (!graphInputs.has(name)) {
          const t = (await session.run(feeds, [name]))[name]!;
          x = tensorToFloat32(t, `value '${name}'`);
          dims = t.dims;
        }
        if (!x) throw new ShrinkError('INVALID_DATA', `gptq: input '${name}' is not fed as float data by '${calibration.name}'`);
        // Dataset rows past `count` pad a fixed batch: kept out, as calibration does.
        if (batchRows > count && dims?.[0] === batchRows) x = x.subarray(0, (x.length / batchRows) * count);
        const r = x.length / K;
        if (!Number.isInteger(r)) {
          throw new ShrinkError('INVALID_DATA', `gptq: value '${name}' holds ${x.length} values, not rows of K = ${K}`);
        }
        accumulate(h, x, K, r);
        rows += r;
        progress.tick(1);
      }
      // Mirror the upper triangle and average: the scale does not matter to GPTQ (damping is relative).
      const inv = rows > 0 ? 1 / rows : 0;
      for (let i = 0; i < K; i++) {
        for (let j = i; j < K; j++) {
          const v = h[i * K + j]! * inv;
          h[i * K + j] = v;
          h[j * K + i] = v;
        }
      }
      if (each) each(name, h);
      else hessians.set(name, h);
      tokens.set(name, rows);
    }
  } finally {
    progress.stop();
    await session.release();
  }
  return { hessians, samples: n, tokens };
}

/** Keys of the MatMul/Gemm weights the weight-only pass would quantize (lookups take no Hessian). */
export function plannedWeightKeys(
  model: onnx.IModelProto,
  o: Pick<ResolvedQuantizeOptions, 'include' | 'exclude' | 'blockSize'>,
): string[] {
  return [...weightOnlyPlans(model, o)].filter(({ plan }) => !plan.lookup).map(({ plan }) => plan.weight.key);
}

/** The diagonal of every Hessian: the mean square of each input channel (llama.cpp's importance matrix). */
export async function activationImportance(
  model: onnx.IModelProto,
  calibration: CalibrationSet,
  o: ResolvedQuantizeOptions,
  ctx?: Ctx,
): Promise<{ importance: Map<string, Float64Array>; note: string }> {
  const importance = new Map<string, Float64Array>();
  const h = await gatherHessians(model, calibration, o, { samples: o.calibSamples }, ctx, (name, full) => {
    const K = Math.round(Math.sqrt(full.length));
    const d = new Float64Array(K);
    for (let k = 0; k < K; k++) d[k] = full[k * K + k]!;
    importance.set(name, d);
  });
  return {
    importance,
    note: `mixed precision: activations of ${importance.size} MatMul input(s) from ${h.samples} sample(s) of '${calibration.name}' weigh each weight's error`,
  };
}

/**
 * GPTQ's blocks by weight key, quantized as each input's Hessian is made and dropped before the next: one
 * Hessian and one weight's float copy are held at a time, besides the blocks (refused in one line without
 * calibration data). `bitsByWeight`: mixed precision's widths; the rest take `o.bits`.
 */
export async function gptqBlocks(
  model: onnx.IModelProto,
  o: ResolvedQuantizeOptions,
  calibration: CalibrationSet | undefined,
  bitsByWeight: ReadonlyMap<string, GridBits> | undefined,
  ctx?: Ctx,
): Promise<{ blocks: Map<string, BlockwiseWeights>; note: string }> {
  if (!calibration) throw new ShrinkError('CALIBRATION_EMPTY', calibrationMissing(o), { option: 'calibData', missing: 'calibration' });
  // The plans' float copies are dropped here and made again (replan) while each weight is quantized.
  const readers = new Map<string, Array<() => NBitsPlan>>();
  for (const { plan, replan } of weightOnlyPlans(model, o)) {
    if (!plan.lookup) readers.set(plan.input, [...(readers.get(plan.input) ?? []), replan]);
  }
  const blocks = new Map<string, BlockwiseWeights>();
  const h = await gatherHessians(model, calibration, o, { samples: o.calibSamples }, ctx, (name, hessian) => {
    for (const replan of readers.get(name) ?? []) {
      const w = replan().weight;
      if (blocks.has(w.key)) continue;
      const bits = bitsByWeight?.get(w.key) ?? o.bits ?? 4;
      blocks.set(w.key, quantizeGptq(w.data, w.K, w.N, { bits, blockSize: o.blockSize, symmetric: o.symmetric, name: w.source }, hessian));
    }
  });
  const rows = [...h.tokens.values()];
  const note =
    `gptq: Hessians of ${h.tokens.size} MatMul input(s) from ${h.samples} sample(s) of '${calibration.name}'` +
    (rows.length ? ` (${Math.min(...rows)} activation rows each)` : '');
  return { blocks, note };
}

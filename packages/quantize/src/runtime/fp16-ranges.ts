/**
 * The data-driven half of the fp16 range rules: the float32 model runs once in onnxruntime with every
 * float32 node output exposed (core's exposeIntermediates, as calibration does), and the largest finite
 * |value| each reaches is what convertToFloat16 compares with float16's range. The static rules only see
 * constants and BatchNormalization statistics; openWakeWord's melspectrogram takes raw int16-scale audio,
 * and its STFT power passes 65504 with no constant saying so.
 */
import { progressOf, type Ctx, type onnx } from '@shrink/core';
import { createSession, exposeIntermediates, feedsFor, planInput, syntheticFeedSet, type Feeds, type Outputs } from '@shrink/core/runtime';
import type { MeasuredRanges } from '../fp16.js';
import { valueTypes } from '../fp16-types.js';
import { isFeedSet, type CalibrationSet } from './calibrate.js';

/** Samples the range run reads at most: the point is the scale values reach, not their distribution. */
export const RANGE_SAMPLES = 8;

const FLOAT = 1;

/** Largest finite |x|: an infinity in float32 is one in float16 too, so it asks for nothing. */
function peakOf(values: ArrayLike<number>): number {
  let peak = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]!);
    if (a > peak && a !== Infinity) peak = a;
  }
  return peak;
}

/**
 * Runs `model` (float32) on up to RANGE_SAMPLES samples of `data` (synthetic samples when there is none)
 * and returns the peak |value| of every float32 graph input and top-level node output. Throws what
 * onnxruntime throws; the caller falls back to the static rules.
 */
export async function measureFloat16Ranges(model: onnx.IModelProto, data: CalibrationSet | undefined, ctx?: Ctx): Promise<MeasuredRanges> {
  const graph = model.graph ?? {};
  const types = valueTypes(graph);
  const inits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (graph.input ?? []).map((v) => v.name ?? '').filter((n) => n !== '' && !inits.has(n) && types.get(n) === FLOAT);
  const tensors = [
    ...new Set((graph.node ?? []).flatMap((n) => n.output ?? []).filter((o) => o !== '' && types.get(o) === FLOAT && !inits.has(o))),
  ];
  const session = await createSession(exposeIntermediates(model, tensors), { label: 'fp16 range run' }, ctx);
  const peaks = new Map<string, number>();
  const raise = (name: string, values: ArrayLike<number>): void => {
    const p = peakOf(values);
    if (p > (peaks.get(name) ?? -1)) peaks.set(name, p);
  };
  const collect = (feeds: Feeds, out: Outputs): void => {
    for (const name of inputs) {
      const f = feeds[name];
      if (f && f.data instanceof Float32Array) raise(name, f.data);
    }
    for (const name of tensors) {
      const t = out[name];
      if (t?.type === 'float32') raise(name, t.data as Float32Array);
    }
  };
  const progress = progressOf(ctx);
  try {
    const set = data && isFeedSet(data) ? data : data ? undefined : syntheticFeedSet(session, model, { count: RANGE_SAMPLES });
    if (set) {
      const samples = set.samples.slice(0, RANGE_SAMPLES);
      progress.start(`fp16 range check: float32 values on ${samples.length} sample(s)`, samples.length);
      for (const feeds of samples) {
        ctx?.signal?.throwIfAborted();
        collect(feeds, await session.run(feeds, tensors));
        progress.tick(1);
      }
      const on = samples.length === set.samples.length ? set.name : `the first ${samples.length} samples of ${set.name}`;
      return { peaks, on, synthetic: set.synthetic };
    }
    // A dataset: its first samples in one run (a fixed batch dim takes that many, zero-padded rows included).
    const ds = data as Exclude<CalibrationSet, { samples: unknown }>;
    const plan = planInput(session, ds);
    const count = Math.min(RANGE_SAMPLES, ds.n, plan.fixedBatch ?? RANGE_SAMPLES);
    progress.start(`fp16 range check: float32 values on ${count} sample(s)`, 1);
    const { feeds } = feedsFor(plan, ds, 0, count);
    collect(feeds, await session.run(feeds, tensors));
    progress.tick(1);
    return { peaks, on: `${count} sample(s) of ${ds.name}`, synthetic: false };
  } finally {
    progress.stop();
    await session.release();
  }
}

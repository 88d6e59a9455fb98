/**
 * The data-driven half of the fp16 range rules: the float32 model runs in onnxruntime with the largest
 * finite |value| of every float32 node output added as a scalar output (Abs -> ReduceMax, infinities
 * masked), which is what convertToFloat16 compares with float16's range. Scalars, not the tensors: a
 * 1024x1024 segmentation net's intermediates exposed whole would take many GB. The static rules only see
 * constants and BatchNormalization statistics; openWakeWord's melspectrogram takes raw int16-scale audio,
 * and its STFT power passes 65504 with no constant saying so.
 */
import { attr, Graph, makeNode, makeTensor, makeValueInfo, progressOf, type Ctx, type onnx } from '@shrink/core';
import { createSession, feedsFor, planInput, syntheticFeedSet, type Feeds, type Outputs } from '@shrink/core/runtime';
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
 * `model` with, for each of `tensors`, a scalar graph output holding its largest finite |value|:
 * Abs -> (Where(IsInf, 0) from opset 10, where IsInf exists) -> ReduceMax over every axis. Returns the
 * new model and each tensor's output name.
 */
function withPeakOutputs(model: onnx.IModelProto, tensors: readonly string[]): { model: onnx.ModelProto; peakOf: Map<string, string> } {
  const graph = Graph.from(model);
  const masks = (graph.opsetVersion('') ?? 0) >= 10;
  const zero = graph.uniqueName('fp16_range_zero');
  if (masks) graph.setInitializer(makeTensor(zero, 'float32', [], [0]));
  const names = new Map<string, string>();
  tensors.forEach((t, i) => {
    const base = `fp16_range_${i}`;
    const abs = graph.uniqueName(`${base}_abs`);
    const finite = masks ? graph.uniqueName(`${base}_finite`) : abs;
    const out = graph.uniqueName(`${base}_peak`);
    const nodes = [makeNode('Abs', [t], [abs], {}, { name: graph.uniqueNodeName(`${base}_abs`) })];
    if (masks) {
      const inf = graph.uniqueName(`${base}_isinf`);
      nodes.push(
        makeNode('IsInf', [abs], [inf], {}, { name: graph.uniqueNodeName(`${base}_isinf`) }),
        makeNode('Where', [inf, zero, abs], [finite], {}, { name: graph.uniqueNodeName(`${base}_where`) }),
      );
    }
    nodes.push(makeNode('ReduceMax', [finite], [out], { keepdims: attr.int(0) }, { name: graph.uniqueNodeName(`${base}_max`) }));
    graph.addNodes(nodes);
    names.set(t, out);
  });
  const m = graph.toModel();
  m.graph!.output = [...(m.graph!.output ?? []), ...[...names.values()].map((n) => makeValueInfo(n, 'float32', []))];
  return { model: m, peakOf: names };
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
  const probed = withPeakOutputs(model, tensors);
  const session = await createSession(probed.model, { label: 'fp16 range run' }, ctx);
  const fetch = [...probed.peakOf.values()];
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
      const t = out[probed.peakOf.get(name)!];
      // ReduceMax of an empty tensor is -Infinity, which peakOf reads as 0.
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
        collect(feeds, await session.run(feeds, fetch));
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
    collect(feeds, await session.run(feeds, fetch));
    progress.tick(1);
    return { peaks, on: `${count} sample(s) of ${ds.name}`, synthetic: false };
  } finally {
    progress.stop();
    await session.release();
  }
}

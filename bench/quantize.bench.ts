/**
 * @shrink/quantize against fp32 in the same run: sizes and onnxruntime latency of every method on a
 * 784-2048-2048-10 MLP, static QDQ on the fashion-cnn preset (with and without its first Conv), and
 * the accuracy each method costs the fashion-mlp preset on the Fashion-MNIST test set.
 */
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  compareLatency,
  createSession,
  encodeModel,
  evaluate,
  exportToOnnx,
  loadModel,
  mulberry32,
  quantizeModel,
  resolveCalibration,
  resolveData,
  saveModel,
  ShrinkError,
  tensorNumel,
  trainPreset,
  type CalibrationSet,
  type Dataset,
  type FeedTensor,
  type LatencyComparison,
  type onnx,
  type QuantizeOptions,
  type QuantizeReport,
  type Session,
} from './core.js';
import { buildMlp } from './onnx-io.bench.js';
import { fmtBytes, fmtMs, fmtX, mdTable, nowMs, relL2Error, type Bench, type BenchContext } from './lib.js';

export const ORT_THREADS = 2;
export const BATCHES = [1, 32] as const;
export const MLP_WIDTHS = [784, 2048, 2048, 10] as const;
/** Per comparison: warm-up pairs, then pairs until `runs` or `maxTimeMs` (at least `minRuns`). */
export const PAIRS = { warmup: 20, runs: 2000, minRuns: 30, maxTimeMs: 3000 } as const;
/** Trained models are kept here between runs: training is the slow part and not what is measured. */
const CACHE_DIR = path.join(os.tmpdir(), 'shrink-bench-cache');

export interface Variant {
  readonly name: string;
  /** What CLI flags would make it. */
  readonly how: string;
  readonly model: onnx.ModelProto;
  readonly report?: QuantizeReport;
  /** Wall time of the quantizeModel call (calibration included). */
  readonly quantizeMs?: number;
}

async function quantized(
  ctx: BenchContext,
  base: onnx.ModelProto,
  name: string,
  how: string,
  opts: QuantizeOptions,
  calibration?: CalibrationSet,
): Promise<Variant> {
  ctx.log(`quantize: ${name}`);
  const t0 = nowMs();
  const r = await quantizeModel(base, opts, calibration ? { calibration } : {});
  return { name, how, model: r.model, report: r.report, quantizeMs: nowMs() - t0 };
}

function quantizedCount(v: Variant): string {
  if (!v.report) return '—';
  const nodes = v.report.nodes;
  return `${nodes.filter((n) => n.action === 'quantized').length} of ${nodes.length}`;
}

export interface Latency {
  readonly batch: number;
  /** One interleaved fp32-vs-variant comparison per variant; undefined for fp32 itself. */
  readonly cmp: ReadonlyArray<LatencyComparison | undefined>;
}

/**
 * Each variant against fp32 in its own interleaved A/B series (core's compareLatency, the method
 * `shrink quantize` reports): pairs in alternating order, so a ratio compares two runs made back to back.
 */
export async function latencies(
  ctx: BenchContext,
  label: string,
  variants: readonly Variant[],
  inputOf: (batch: number) => FeedTensor,
): Promise<Latency[]> {
  const sessions: Session[] = [];
  try {
    for (const v of variants) sessions.push(await createSession(v.model, { threads: ORT_THREADS, label: `${label} ${v.name}` }));
    const out: Latency[] = [];
    for (const batch of BATCHES) {
      const cmp: Array<LatencyComparison | undefined> = [undefined];
      for (let i = 1; i < sessions.length; i++) {
        ctx.log(`${label} latency, batch ${batch}: fp32 vs ${variants[i]!.name}`);
        const a = sessions[0]!;
        const b = sessions[i]!;
        const input = inputOf(batch);
        cmp.push(await compareLatency(a, b, { [a.inputNames[0]!]: input }, { [b.inputNames[0]!]: input }, PAIRS));
      }
      out.push({ batch, cmp });
    }
    return out;
  } finally {
    for (const s of sessions) await s.release();
  }
}

export function latencyTable(variants: readonly Variant[], lats: readonly Latency[]): string {
  const rows: string[][] = [];
  for (const l of lats) {
    variants.forEach((v, i) => {
      const c = l.cmp[i];
      if (!c) return;
      rows.push([
        v.name,
        String(l.batch),
        fmtMs(c.a.p50),
        fmtMs(c.b.p50),
        `${fmtX(c.ratio.p50)} (${fmtX(c.ratio.p10)}–${fmtX(c.ratio.p90)})`,
        String(c.pairs),
      ]);
    });
  }
  return mdTable(['variant', 'batch', 'fp32 p50', 'variant p50', 'per-pair ratio variant / fp32, median (p10–p90)', 'pairs'], rows, [
    false,
    true,
    true,
    true,
    true,
    true,
  ]);
}

/** ‖y − y_ref‖₂ / ‖y_ref‖₂ over a batch, from onnxruntime. */
async function outputError(ref: onnx.ModelProto, model: onnx.ModelProto, input: FeedTensor): Promise<number> {
  const run = async (m: onnx.ModelProto): Promise<Float32Array> => {
    const s = await createSession(m, { threads: ORT_THREADS });
    try {
      const out = await s.run({ [s.inputNames[0]!]: input });
      return out[s.outputNames[0]!]!.data as Float32Array;
    } finally {
      await s.release();
    }
  };
  const [a, b] = [await run(ref), await run(model)];
  const e = relL2Error(b, a);
  if (!Number.isFinite(e)) throw new Error(`output error is ${e}: the quantized model produced non-finite values`);
  return e;
}

/** A trained, exported preset from the cache, or trained now (and cached). */
export async function trainedModel(
  ctx: BenchContext,
  preset: string,
  epochs: number,
  data: string,
): Promise<{ model: onnx.ModelProto; how: string }> {
  const file = path.join(CACHE_DIR, `${preset}-e${epochs}-${data.replace(/[^a-z0-9]+/gi, '-')}-seed0.onnx`);
  if (existsSync(file))
    return { model: await loadModel(file), how: `loaded from the cache ${file} (trained by an earlier run; delete it to retrain)` };
  ctx.log(`training ${preset} (${epochs} epoch(s) on ${data}); cached in ${CACHE_DIR} for later runs`);
  const t0 = nowMs();
  const r = await trainPreset(preset, { epochs, data });
  const model = exportToOnnx(r.model).model;
  r.model.dispose();
  mkdirSync(CACHE_DIR, { recursive: true });
  await saveModel(model, file);
  return { model, how: `trained in this run (${((nowMs() - t0) / 1000).toFixed(0)} s, tfjs ${r.backend}) and cached as ${file}` };
}

export async function accuracy(model: onnx.ModelProto, test: Dataset, label: string): Promise<number> {
  const s = await createSession(model, { threads: ORT_THREADS, label });
  try {
    const r = await evaluate(s, test);
    if (r.task !== 'classification') throw new Error(`${label}: expected a classification result`);
    return r.accuracy;
  } finally {
    await s.release();
  }
}

export const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
export const points = (d: number): string => `${d >= 0 ? '+' : '−'}${Math.abs(100 * d).toFixed(2)}`;
export const yesNo = (ok: boolean): string => (ok ? 'yes' : 'no');

export interface Goal {
  goal: string;
  result: string;
  met: string;
}

/** "batch 1: 0.2×, batch 32: 0.3×" and whether every batch is within `limit`. */
export function latencyGoal(lats: readonly Latency[], i: number, limit: number): { result: string; met: string } {
  const med = lats.map((l) => ({ batch: l.batch, r: l.cmp[i]!.ratio.p50 }));
  const ok = med.filter((m) => m.r <= limit);
  return {
    result: med.map((m) => `batch ${m.batch}: ${fmtX(m.r)}`).join(', '),
    met: ok.length === med.length ? 'yes' : ok.length === 0 ? 'no' : `batch ${ok.map((m) => m.batch).join(', ')} only`,
  };
}

async function mlpSection(ctx: BenchContext, goals: Goal[]): Promise<string> {
  ctx.log('quantize: building the MLP');
  const base = buildMlp(MLP_WIDTHS, 42);
  const fp32: Variant = { name: 'fp32', how: '—', model: base };
  const variants: Variant[] = [
    fp32,
    await quantized(ctx, base, 'q8 (int8 dynamic)', '--dtype q8', { dtype: 'q8' }),
    await quantized(ctx, base, 'q4 (block 32)', '--dtype q4 --block-size 32', { dtype: 'q4', blockSize: 32 }),
    await quantized(ctx, base, 'q4f16 (block 32)', '--dtype q4f16 --block-size 32', { dtype: 'q4f16', blockSize: 32 }),
    await quantized(ctx, base, '8-bit weight-only (block 32)', '--dtype q8 --mode weight-only --block-size 32', {
      dtype: 'q8',
      mode: 'weight-only',
      blockSize: 32,
    }),
    await quantized(ctx, base, 'fp16', '--dtype fp16', { dtype: 'fp16' }),
  ];
  const rand = mulberry32(7);
  const inputs = new Map(
    BATCHES.map((b) => [b, { data: Float32Array.from({ length: b * MLP_WIDTHS[0] }, () => rand()), dims: [b, MLP_WIDTHS[0]] }]),
  );
  const inputOf = (b: number) => inputs.get(b as (typeof BATCHES)[number])!;
  const bytes = variants.map((v) => encodeModel(v.model).length);
  const errors: number[] = [];
  for (const v of variants) errors.push(await outputError(base, v.model, inputOf(32)));
  const lats = await latencies(ctx, 'MLP', variants, inputOf);

  const sizeRatio = (i: number): number => bytes[i]! / bytes[0]!;
  const q8 = variants.findIndex((v) => v.name.startsWith('q8'));
  const q4 = variants.findIndex((v) => v.name.startsWith('q4 '));
  const fp16 = variants.findIndex((v) => v.name === 'fp16');
  goals.push(
    { goal: 'MLP 784-2048-2048-10 q8 (int8 dynamic) latency ≤ 0.30× fp32', ...latencyGoal(lats, q8, 0.3) },
    { goal: 'MLP q8 size ≤ 0.26× fp32', result: fmtX(sizeRatio(q8)), met: yesNo(sizeRatio(q8) <= 0.26) },
    { goal: 'MLP q4 (block 32) size ≤ 0.16× fp32', result: fmtX(sizeRatio(q4)), met: yesNo(sizeRatio(q4) <= 0.16) },
    { goal: 'MLP q4 latency (reported)', ...latencyGoal(lats, q4, Infinity), met: 'reported' },
    { goal: 'MLP fp16 size ≤ 0.51× fp32', result: fmtX(sizeRatio(fp16)), met: yesNo(sizeRatio(fp16) <= 0.51) },
    { goal: 'MLP fp16 latency (reported)', ...latencyGoal(lats, fp16, Infinity), met: 'reported' },
  );
  const params = MLP_WIDTHS.slice(1).reduce((n, w, i) => n + w * (MLP_WIDTHS[i]! + 1), 0);
  return [
    `### MLP ${MLP_WIDTHS.join('-')}: every method`,
    '',
    `Model: \`buildMlp\` (MatMul + Add + Relu per layer, seeded uniform Glorot weights), ${params.toLocaleString('en-US')} float32 parameters, ` +
      `opset 17. Each variant is \`quantizeModel(fp32, options)\`; sizes are the encoded model (inline, what \`saveModel\` writes). ` +
      `Output error: ‖y − y_fp32‖₂ / ‖y_fp32‖₂ on the batch-32 input, from onnxruntime (random weights and inputs, so a sanity check, not an accuracy).`,
    '',
    mdTable(
      ['variant', 'shrink quantize flags', 'nodes quantized', 'file bytes', 'size ratio to fp32', 'quantize time', 'output error vs fp32'],
      variants.map((v, i) => [
        v.name,
        v.how,
        quantizedCount(v),
        `${bytes[i]} (${fmtBytes(bytes[i]!)})`,
        i === 0 ? '1' : fmtX(sizeRatio(i)),
        v.quantizeMs === undefined ? '—' : fmtMs(v.quantizeMs),
        i === 0 ? '—' : errors[i]!.toExponential(2),
      ]),
      [false, false, true, true, true, true, true],
    ),
    '',
    latencyTable(variants, lats),
  ].join('\n');
}

async function cnnSection(ctx: BenchContext, goals: Goal[], test: Dataset): Promise<string> {
  const epochs = 1;
  const data = 'fashion-mnist:10000';
  const { model: base, how } = await trainedModel(ctx, 'fashion-cnn', epochs, data);
  const firstConv = base.graph?.node?.find((n) => n.opType === 'Conv')?.name;
  if (!firstConv) throw new Error('fashion-cnn: no Conv node in the exported model');
  const calSpec = 'fashion-mnist';
  const calibration = await resolveCalibration(calSpec, base);
  const variants: Variant[] = [
    { name: 'fp32', how: '—', model: base },
    await quantized(
      ctx,
      base,
      'int8 static QDQ',
      `--dtype q8 --mode static --calib-data ${calSpec}`,
      { dtype: 'q8', mode: 'static' },
      calibration,
    ),
    await quantized(
      ctx,
      base,
      `int8 static QDQ, '${firstConv}' excluded`,
      `--dtype q8 --mode static --calib-data ${calSpec} --exclude ${firstConv}`,
      { dtype: 'q8', mode: 'static', exclude: [firstConv] },
      calibration,
    ),
  ];
  ctx.log('quantize: fashion-cnn accuracy on the test set');
  const acc: number[] = [];
  for (const v of variants) acc.push(await accuracy(v.model, test, `fashion-cnn ${v.name}`));
  const per = tensorNumel(test.sampleShape);
  const lats = await latencies(ctx, 'fashion-cnn', variants, (b) => ({ data: test.x.slice(0, b * per), dims: [b, ...test.sampleShape] }));
  for (let i = 1; i < variants.length; i++) {
    goals.push({ goal: `fashion-cnn ${variants[i]!.name}: latency ≤ 0.6× fp32`, ...latencyGoal(lats, i, 0.6) });
    goals.push({
      goal: `fashion-cnn ${variants[i]!.name}: accuracy delta (reported)`,
      result: `${points(acc[i]! - acc[0]!)} points`,
      met: 'reported',
    });
  }
  const cal = variants[1]!.report?.calibration;
  return [
    '### fashion-cnn: int8 static QDQ',
    '',
    `Model: preset \`fashion-cnn\` trained ${epochs} epoch on \`${data}\` (seed 0) and exported with exportToOnnx: ${how}. ` +
      `Calibration: ${cal ? `${cal.method}, the first ${cal.samples} samples of ${cal.data} (train part)` : 'n/a'}; per-tensor weights (the default). ` +
      `Accuracy: \`evaluate()\` on the ${test.n.toLocaleString('en-US')}-image Fashion-MNIST test set. Latency inputs: the first test images. ` +
      `The first Conv ('${firstConv}') has one input channel.`,
    '',
    mdTable(
      ['variant', 'shrink quantize flags', 'nodes quantized', 'quantize time (incl. calibration)', 'test accuracy', 'delta (points)'],
      variants.map((v, i) => [
        v.name,
        v.how,
        quantizedCount(v),
        v.quantizeMs === undefined ? '—' : fmtMs(v.quantizeMs),
        pct(acc[i]!),
        i === 0 ? '—' : points(acc[i]! - acc[0]!),
      ]),
      [false, false, true, true, true, true],
    ),
    '',
    latencyTable(variants, lats),
  ].join('\n');
}

async function accuracySection(ctx: BenchContext, goals: Goal[], test: Dataset): Promise<string> {
  const epochs = 2;
  const data = 'fashion-mnist:20000';
  const { model: base, how } = await trainedModel(ctx, 'fashion-mlp', epochs, data);
  const variants: Variant[] = [
    { name: 'fp32', how: '—', model: base },
    await quantized(ctx, base, 'q8 (int8 dynamic)', '--dtype q8', { dtype: 'q8' }),
    await quantized(ctx, base, 'q4 (block 32)', '--dtype q4', { dtype: 'q4', blockSize: 32 }),
  ];
  ctx.log('quantize: fashion-mlp accuracy on the test set');
  const acc: number[] = [];
  for (const v of variants) acc.push(await accuracy(v.model, test, `fashion-mlp ${v.name}`));
  const bytes = variants.map((v) => encodeModel(v.model).length);
  const drop = (i: number): number => acc[0]! - acc[i]!;
  goals.push(
    {
      goal: 'fashion-mlp q8 accuracy drop ≤ 0.5 point',
      result: `${pct(acc[1]!)} vs ${pct(acc[0]!)}: ${points(-drop(1))} points`,
      met: yesNo(drop(1) <= 0.005),
    },
    {
      goal: 'fashion-mlp q4 accuracy drop ≤ 1.5 points',
      result: `${pct(acc[2]!)} vs ${pct(acc[0]!)}: ${points(-drop(2))} points`,
      met: yesNo(drop(2) <= 0.015),
    },
  );
  return [
    '### fashion-mlp: accuracy cost',
    '',
    `Model: preset \`fashion-mlp\` (784-512-256-10) trained ${epochs} epochs on \`${data}\` (seed 0), exported with exportToOnnx: ${how}. ` +
      `Accuracy: \`evaluate()\` in onnxruntime on the ${test.n.toLocaleString('en-US')}-image Fashion-MNIST test set.`,
    '',
    mdTable(
      ['variant', 'shrink quantize flags', 'file bytes', 'size ratio', 'test accuracy', 'delta (points)'],
      variants.map((v, i) => [
        v.name,
        v.how,
        `${bytes[i]} (${fmtBytes(bytes[i]!)})`,
        i === 0 ? '1' : fmtX(bytes[i]! / bytes[0]!),
        pct(acc[i]!),
        i === 0 ? '—' : points(acc[i]! - acc[0]!),
      ]),
      [false, false, true, true, true, true],
    ),
  ].join('\n');
}

/** The Fashion-MNIST test set, or why the sections that need it are skipped (the data is optional here). */
export async function fashionTestSet(parts: string): Promise<{ test?: Dataset; missing: string }> {
  try {
    return { test: await resolveData('fashion-mnist', { split: 'test' }), missing: '' };
  } catch (e) {
    if (!(e instanceof ShrinkError && e.code === 'NOT_FOUND')) throw e;
    return { missing: `Skipped the ${parts} parts: ${e.message}` };
  }
}

export const quantizeBench: Bench = {
  name: 'quantize',
  title: 'Quantization: size, latency and accuracy vs fp32',
  inDefaultSet: true,
  async run(ctx: BenchContext): Promise<string> {
    const goals: Goal[] = [];
    const mlp = await mlpSection(ctx, goals);
    const { test, missing } = await fashionTestSet('fashion-cnn and fashion-mlp');
    const cnn = test ? await cnnSection(ctx, goals, test) : missing;
    const acc = test ? await accuracySection(ctx, goals, test) : '';
    return [
      `onnxruntime-node CPU execution provider, ${ORT_THREADS} intra-op threads, default graph optimizations (which fuse the quantized patterns). ` +
        `Latency: each variant against fp32 in its own interleaved A/B series (\`compareLatency\` from @shrink/core, what \`shrink quantize\` reports): ` +
        `${PAIRS.warmup} warm-up pairs, then pairs in alternating order (fp32 first, then the variant first, ...) until ${PAIRS.runs} pairs or ` +
        `${PAIRS.maxTimeMs / 1000} s (at least ${PAIRS.minRuns}). Timed: \`session.run(feeds)\` with feeds converted beforehand. ` +
        `A ratio is variant / fp32 **within one pair**, summarized by its median (p10–p90); below 1 is faster.`,
      '',
      mdTable(
        ['goal (issue #3)', 'result (latency: per-pair median ratios)', 'met'],
        goals.map((g) => [g.goal, g.result, g.met]),
      ),
      '',
      mlp,
      '',
      cnn,
      '',
      acc,
    ].join('\n');
  },
};

import {
  convertOpset,
  foldBatchNorms,
  encodeModel,
  Graph,
  opsetVersionOf,
  parseOptions,
  progressOf,
  refuseNaN,
  selectNodes,
  ShrinkError,
  nodesDeep,
  type Ctx,
  type onnx,
} from '@shrink/core';
import { resolveMode, type ConcreteMode } from '../auto-mode.js';
import { checkCombination } from '../check-options.js';
import { resolveData } from '@shrink/core/data';
import { quantizeOptionsSchema, type QuantizeOptions, type ResolvedQuantizeOptions } from '../options.js';
import { dequantizeWeights, quantizedOps, refuseQuantized } from '../already-quantized.js';
import type { PassResult } from '../types.js';
import { quantizeDynamic } from '../dynamic.js';
import { quantizeStatic } from '../static.js';
import { quantizeWeightOnly } from '../nbits.js';
import { checkSizeBudget, checkTargetBits, chooseMixedBits, type MixedChoice } from '../mixed/mixed-precision.js';
import { bitsCandidates } from '../mixed/weight-sensitivity.js';
import type { GridBits } from '../ops/nbits-blocks.js';
import { dataFreeAlgo } from '../ops/weight-quantizers.js';
import { measureSensitivity } from './measured-sensitivity.js';
import { refuseAlreadyHalf, storesOnlyHalf } from '../fp16-already.js';
import { convertToFloat16, type MeasuredRanges } from '../fp16.js';
import { portabilityNote } from '../weight-format.js';
import { createSession, int8KernelPath, isFeedsSpec, readFeedSet, syntheticFeedSet, type FeedSet } from '@shrink/core/runtime';
import path from 'node:path';
import { calibrate, randomCalibration, type CalibrationSet } from './calibrate.js';
import { measureFloat16Ranges } from './fp16-ranges.js';
import { activationImportance, gptqBlocks, plannedWeightKeys } from './gptq-hessians.js';

export interface QuantizeEnv {
  /** Static mode: the calibration set (see resolveCalibration); required there, ignored otherwise. */
  calibration?: CalibrationSet;
  /**
   * fp16: realistic inputs for the range check (the float32 model runs on up to 8 of them, and what passes
   * float16's range stays float32); synthetic samples when absent.
   */
  ranges?: CalibrationSet;
}

const RANDOM_SPEC = /^random:(\d+)$/;

/** The inputs a model is fed (IR < 4 models list initializers among the inputs too). */
function feedInputs(model: onnx.IModelProto): onnx.IValueInfoProto[] {
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  return (model.graph?.input ?? []).filter((v) => !inits.has(v.name));
}

/** Whether random:N can be the classic dataset: one float32 input with fixed dims after the batch dim. */
function oneFixedFloatInput(model: onnx.IModelProto): boolean {
  const inputs = feedInputs(model);
  const t = inputs[0]?.type?.tensorType;
  const dims = (t?.shape?.dim ?? []).slice(1);
  return (
    inputs.length === 1 &&
    t?.elemType === 1 &&
    (t.shape?.dim ?? []).length >= 2 &&
    dims.every((d) => d.dimValue != null && Number(d.dimValue) > 0)
  );
}

/** A feed set read or made for `model` through a session of it, released afterwards. */
async function withSession(
  model: onnx.IModelProto,
  make: (s: Awaited<ReturnType<typeof createSession>>) => Promise<FeedSet> | FeedSet,
  ctx?: Ctx,
): Promise<FeedSet> {
  const session = await createSession(encodeModel(model), { label: 'model to calibrate' }, ctx);
  try {
    return await make(session);
  } finally {
    await session.release();
  }
}

/**
 * The calibration set for `--calib-data`: a feeds file or folder (the model's inputs by name: .json, .npz,
 * .npy), anything `--data` accepts (its training part), or `random:N`. random:N is N seeded uniform
 * [0, 1) samples for a model with one fixed-size float input, and N synthetic samples by what each input
 * means (token ids within the vocabulary, masks of ones, state of zeros) for any other; either is a smoke
 * test, labelled as such.
 */
export async function resolveCalibration(
  spec: string,
  model: onnx.IModelProto,
  opts: { cwd?: string } = {},
  ctx?: Ctx,
): Promise<CalibrationSet> {
  const m = RANDOM_SPEC.exec(spec);
  if (m) {
    const n = Number(m[1]);
    if (n < 1)
      throw new ShrinkError('CALIBRATION_EMPTY', `${spec}: random calibration needs at least one sample, e.g. random:64`, {
        option: 'calibData',
      });
    if (oneFixedFloatInput(model)) return randomCalibration(model, n);
    const set = await withSession(model, (s) => syntheticFeedSet(s, model, { count: n }), ctx);
    return { ...set, name: `random:${n} (synthetic smoke test: ${set.name})` };
  }
  const file = path.resolve(opts.cwd ?? '.', spec);
  const names = feedInputs(model).map((v) => v.name ?? '');
  if (await isFeedsSpec(file, names)) return withSession(model, (s) => readFeedSet(file, s, model), ctx);
  return resolveData(spec, { split: 'train', ...(opts.cwd ? { cwd: opts.cwd } : {}) });
}

export { checkCombination } from '../check-options.js';

/**
 * The quantization pass behind `shrink quantize`: picks the method from dtype and mode, calibrates when
 * the method is static, and returns the new model with its report. The input model is never modified.
 */
export async function quantizeModel(
  model: onnx.IModelProto,
  options: QuantizeOptions,
  env: QuantizeEnv = {},
  ctx?: Ctx,
): Promise<PassResult> {
  const asked = parseOptions(quantizeOptionsSchema, options, 'quantize');
  checkCombination(asked);
  const auto = resolveMode(asked, model, env.calibration !== undefined);
  const parsed = { ...asked, mode: auto.mode };
  // Only dynamic 8-bit has an int8-storage float-compute form; elsewhere "compute in float" means left float.
  const weightOnlyForm = parsed.mode === 'dynamic' && ['q8', 'int8', 'uint8'].includes(parsed.dtype);
  const o =
    parsed.floatCompute && parsed.floatCompute.length > 0 && !weightOnlyForm
      ? { ...parsed, exclude: [...(parsed.exclude ?? []), ...parsed.floatCompute], floatCompute: [] }
      : parsed;
  refuseQuantized(model, o.requantize);
  const r =
    o.requantize && quantizedOps(model).size > 0
      ? await (async () => {
          const d = dequantizeWeights(model);
          const q = await quantizeFloat(d.model, o, env, ctx);
          q.report.notes.unshift(...d.notes);
          return q;
        })()
      : await quantizeFloat(model, o, env, ctx);
  if (auto.note) r.report.notes.unshift(auto.note);
  return r;
}

async function quantizeFloat(
  model: onnx.IModelProto,
  o: ResolvedQuantizeOptions & { mode: ConcreteMode },
  env: QuantizeEnv,
  ctx?: Ctx,
): Promise<PassResult> {
  // NaN anywhere is refused. An infinity only where a weight to quantize holds it, and the quantizers say
  // which: a causal mask's -Infinity fill (every GPT-style export has one) is not a weight, and fp16 keeps
  // infinities. Static mode checks every tensor first, or calibration would blame its data for the
  // activations an infinite weight makes.
  const calibrates = o.mode === 'static' && (o.dtype === 'q8' || o.dtype === 'int8' || o.dtype === 'uint8');
  refuseNaN(model, 'quantize', { infinity: calibrates });
  // Exports that keep a BatchNormalization apart from its Conv (paddle2onnx, old PyTorch) would keep its
  // four vectors float32 beside the codes: fold them first (onnxruntime fuses them at load anyway).
  const bn = foldBatchNorms(model);
  if (bn.folded === 0) return quantizeFolded(model, o, env, ctx);
  // Asked to keep BatchNormalization float32 (fp16's keepFloat32), a fold would put its math in a float16 Conv.
  const keepBn = (o.keepFloat32 ?? []).includes('BatchNormalization');
  if (keepBn || !selectionSurvives(bn.model, o)) {
    const r = await quantizeFolded(model, o, env, ctx);
    r.report.notes.unshift(
      `BatchNormalization not folded: ${keepBn ? 'keepFloat32 lists it' : 'include/exclude name a node the fold would remove'}`,
    );
    return r;
  }
  const r = await quantizeFolded(bn.model, o, env, ctx);
  r.report.notes.unshift(`folded ${bn.folded} BatchNormalization into the Conv before it first (${bn.kept.length} kept as they are)`);
  return r;
}

/**
 * Whether every include/exclude entry still names something once BatchNormalizations are folded. They
 * name the model as given: a folded BN, its op type, or an unnamed Conv known by its output (which the BN's
 * output replaces) would be gone, and the passes would refuse the entry as naming nothing.
 */
function selectionSurvives(folded: onnx.IModelProto, o: ResolvedQuantizeOptions): boolean {
  if ((o.include ?? []).length === 0 && (o.exclude ?? []).length === 0) return true;
  try {
    selectNodes(Graph.from(folded), o);
    return true;
  } catch {
    return false;
  }
}

async function quantizeFolded(model: onnx.IModelProto, o: ResolvedQuantizeOptions, env: QuantizeEnv, ctx?: Ctx): Promise<PassResult> {
  const step = (label: string, run: () => PassResult): PassResult => rewriting(model, label, run, ctx);
  // GPTQ's Hessians come from the float model this pass rewrites (BatchNormalizations folded).
  const weightOnly = o.dtype === 'q4' || o.dtype === 'q4f16' || o.mode === 'weight-only';
  const gridBits: GridBits = o.dtype === 'q4' || o.dtype === 'q4f16' ? (o.bits ?? 4) : 8;
  const half = o.dtype === 'q4f16';
  const mixed = weightOnly ? await mixedBits(model, { ...o, bits: gridBits, float16: half }, env.calibration, ctx) : undefined;
  const gptq =
    weightOnly && o.algo === 'gptq' ? await gptqOnce(model, { ...o, bits: gridBits }, env.calibration, mixed?.bits, ctx) : undefined;
  const lowBits = { bits: gridBits, ...(gptq ? { precomputed: gptq.blocks } : {}), ...(mixed ? { bitsByWeight: mixed.bits } : {}) };
  const withGptq = (r: PassResult): PassResult => {
    if (gptq) r.report.notes.push(gptq.note);
    if (mixed) r.report.notes.push(...mixed.notes);
    if (mixed && o.sizeBudget !== undefined) checkSizeBudget(r.model, o.sizeBudget);
    return r;
  };
  switch (o.dtype) {
    case 'q4':
      return withGptq(step('q4 weight-only', () => quantizeWeightOnly(model, { ...o, ...lowBits })));
    case 'q4f16': {
      // The float16 half of q4f16 keeps float32 what overflows, as fp16 does.
      const measured = await rangesFor(model, env.ranges, ctx);
      return withGptq(
        step('q4f16 weight-only', () => {
          const r = quantizeWeightOnly(model, { ...o, ...lowBits, float16: true, ...(measured.ranges ? { ranges: measured.ranges } : {}) });
          if (measured.note) r.report.notes.push(measured.note);
          return r;
        }),
      );
    }
    case 'fp16': {
      const measured = await rangesFor(model, env.ranges, ctx);
      // Asked for float16 of a float16 model: say there is nothing to do rather than write a copy.
      // (q4f16 and q8 of a float16 model convert through the same pass and must not be refused.)
      return step('fp16', () => {
        const r = convertToFloat16(model, { ...o, ...(measured.ranges ? { ranges: measured.ranges } : {}) });
        refuseAlreadyHalf(model, r);
        if (measured.note) r.report.notes.push(measured.note);
        return r;
      });
    }
    default:
      break;
  }
  // Integer quantization writes DynamicQuantizeLinear / per-axis DequantizeLinear (opset 11 / 13): an
  // older model (PP-OCR's opset 9, old PyTorch exports) is upgraded in memory to 13 first, and stays there.
  const upgraded = o.mode !== 'weight-only' ? upgradeOldOpset(model) : undefined;
  if (upgraded) model = upgraded.model;
  const noted = (r: PassResult): PassResult => {
    if (upgraded) r.report.notes.unshift(upgraded.note);
    return r;
  };
  const up = model;
  if (o.mode === 'dynamic') return noted(withKernelNote(rewriting(up, `${o.dtype} dynamic`, () => quantizeDynamic(up, o), ctx)));
  if (o.mode === 'weight-only') {
    return withGptq(rewriting(up, `${o.dtype} weight-only`, () => quantizeWeightOnly(up, { ...o, ...lowBits }), ctx));
  }
  if (!env.calibration) {
    throw new ShrinkError('CALIBRATION_EMPTY', 'static quantization needs calibration data (a dataset, or random:64 for a smoke test)', {
      option: 'calibData',
      missing: 'calibration',
    });
  }
  const cal = await calibrate(up, env.calibration, { method: o.calibMethod, percentile: o.percentile, samples: o.calibSamples }, ctx);
  // quantizeStatic notes random (smoke-test) calibration itself.
  return noted(
    withKernelNote(
      rewriting(
        up,
        `${o.dtype} static`,
        () => quantizeStatic(up, o, cal.ranges, { method: cal.method, samples: cal.samples, data: cal.data }),
        ctx,
      ),
    ),
  );
}

/**
 * The fp16 range check's measurement, or why there is none: a model onnxruntime cannot run (or feeds that
 * do not fit it) leaves the static rules alone to decide, said in a note. An abort is not a failure. A
 * model that stores float16 already gets none: fp16 refuses it, and q4f16 has nothing to convert there.
 */
async function rangesFor(
  model: onnx.IModelProto,
  data: CalibrationSet | undefined,
  ctx?: Ctx,
): Promise<{ ranges?: MeasuredRanges; note?: string }> {
  if (storesOnlyHalf(model)) return {};
  try {
    return { ranges: await measureFloat16Ranges(model, data, ctx) };
  } catch (e) {
    if (ctx?.signal?.aborted) throw e;
    const why = ((e as Error).message ?? String(e)).split('\n')[0];
    return {
      note: `range check not run (the float32 model did not run on ${data ? data.name : 'synthetic samples'}: ${why}); only the static rules (constants, BatchNormalization statistics) kept values float32`,
    };
  }
}

/** Below this default-domain opset the integer quantizers cannot write their ops. */
const MIN_QUANT_OPSET = 11;
/** What an old model is upgraded to: 13 gives per-axis DequantizeLinear too. */
const UPGRADE_OPSET = 13;

/** The model at opset 13 and the report's note, when its default-domain opset is below 11; refuses (the converter's one line) when it cannot be converted. */
function upgradeOldOpset(model: onnx.IModelProto): { model: onnx.IModelProto; note: string } | undefined {
  const from = opsetVersionOf(model, '');
  if (from === undefined || from >= MIN_QUANT_OPSET) return undefined;
  const r = convertOpset(model, UPGRADE_OPSET);
  return { model: r.model, note: `upgraded from opset ${from} to ${UPGRADE_OPSET} for quantization: ${r.nodesChanged} nodes changed` };
}

/** The kernel path these weights take on this machine, and whether they are right on others, in the report. */
function withKernelNote(r: PassResult): PassResult {
  // Gathers multiply nothing, and dynamic Convs store uint8 whatever the format (ConvInteger).
  const kernelOps = r.report.mode === 'dynamic' ? ['MatMul', 'Gemm'] : ['MatMul', 'Gemm', 'Conv'];
  const quantized = r.report.nodes.some((n) => n.action === 'quantized' && kernelOps.includes(n.opType));
  if (r.report.weightFormat && quantized) r.report.notes.push(portabilityNote(r.report.weightFormat, int8KernelPath()));
  return r;
}

/**
 * A rewriting pass under a progress line on stderr (none under --json: the CLI's ctx has no progress
 * there): the passes run synchronously over every node, so the line says what runs over how many nodes
 * while a large model is rewritten, and completes when the pass returns.
 */
function rewriting(model: onnx.IModelProto, label: string, run: () => PassResult, ctx?: Ctx): PassResult {
  const progress = progressOf(ctx);
  const nodes = nodesDeep(model.graph).length;
  progress.start(`quantizing ${label} (${nodes} nodes)`, nodes);
  try {
    const r = run();
    progress.tick(nodes);
    return r;
  } finally {
    progress.stop();
  }
}

/**
 * Mixed precision's bits per weight (undefined without targetBits or sizeBudget): each candidate's error by
 * the chosen sensitivity, then the allocation. Measuring runs the model once per candidate.
 */
async function mixedBits(
  model: onnx.IModelProto,
  o: ResolvedQuantizeOptions & { bits: GridBits; float16: boolean },
  calibration: CalibrationSet | undefined,
  ctx?: Ctx,
): Promise<MixedChoice | undefined> {
  if (o.targetBits === undefined && o.sizeBudget === undefined) return undefined;
  checkTargetBits(o);
  const outputs = o.sensitivity === 'outputs' || (o.sensitivity === 'auto' && calibration !== undefined);
  // Weight errors are weighed by the activations when there is data to run.
  const weighed = !outputs && calibration ? await activationImportance(model, calibration, o, ctx) : undefined;
  let candidates = bitsCandidates(model, o, weighed?.importance);
  let weighedBy = weighed
    ? `is its relative output error weighted by the mean square of each input channel (${weighed.note.replace(/^mixed precision: /, '')})`
    : 'is its relative weight error (no calibration data given)';
  if (outputs) {
    if (!calibration) {
      throw new ShrinkError('CALIBRATION_EMPTY', 'sensitivity outputs runs the model on calibration data: give calibData (--calib-data)', {
        option: 'calibData',
        missing: 'calibration',
      });
    }
    candidates = await measureSensitivity(model, candidates, o, calibration, ctx);
    weighedBy = `is the model's output error with it alone at ${o.bits} bits, on calibration samples of '${calibration.name}' (wider levels scaled by their weight errors)`;
  }
  return chooseMixedBits(candidates, o, weighedBy, () => quantizeWeightOnly(model, { ...o, algo: dataFreeAlgo(o.algo) }).model);
}

const gptqMemo = new WeakMap<object, { key: string; made: Awaited<ReturnType<typeof gptqBlocks>> }>();

/**
 * gptqBlocks, kept per model object: the speed guard and the fidelity floor run the pass again on the same
 * model with more nodes excluded, and a weight's blocks do not depend on which others are excluded (the
 * Hessians come from the float model). Reused only when every weight now selected was made.
 */
async function gptqOnce(
  model: onnx.IModelProto,
  o: ResolvedQuantizeOptions & { bits: GridBits },
  calibration: CalibrationSet | undefined,
  bitsByWeight: ReadonlyMap<string, GridBits> | undefined,
  ctx?: Ctx,
): Promise<Awaited<ReturnType<typeof gptqBlocks>>> {
  const key = JSON.stringify([o.bits, o.blockSize, o.symmetric, o.calibSamples, calibration?.name, [...(bitsByWeight ?? [])]]);
  const hit = gptqMemo.get(model);
  if (hit?.key === key && plannedWeightKeys(model, o).every((k) => hit.made.blocks.has(k))) return hit.made;
  const made = await gptqBlocks(model, o, calibration, bitsByWeight, ctx);
  gptqMemo.set(model, { key, made });
  return made;
}

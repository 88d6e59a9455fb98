import { convertOpset, opsetVersionOf, parseOptions, refuseNaN, ShrinkError, type Ctx, type onnx } from '@shrink/core';
import { checkCombination } from '../check-options.js';
import { resolveData, type Dataset } from '@shrink/core/data';
import { quantizeOptionsSchema, type QuantizeOptions, type ResolvedQuantizeOptions } from '../options.js';
import { dequantizeWeights, quantizedOps, refuseQuantized } from '../already-quantized.js';
import type { PassResult } from '../types.js';
import { quantizeDynamic } from '../dynamic.js';
import { quantizeStatic } from '../static.js';
import { quantizeWeightOnly } from '../nbits.js';
import { convertToFloat16 } from '../fp16.js';
import { portabilityNote } from '../weight-format.js';
import { int8KernelPath } from '@shrink/core/runtime';
import { calibrate, randomCalibration } from './calibrate.js';

export interface QuantizeEnv {
  /** Static mode: the calibration set (see resolveCalibration); required there, ignored otherwise. */
  calibration?: Dataset;
}

const RANDOM_SPEC = /^random:(\d+)$/;

/**
 * The calibration set for `--calib-data`: anything `--data` accepts (its training part), or `random:N`,
 * N seeded uniform [0, 1) samples shaped for the model input — a smoke test, labelled as such.
 */
export async function resolveCalibration(spec: string, model: onnx.IModelProto, opts: { cwd?: string } = {}): Promise<Dataset> {
  const m = RANDOM_SPEC.exec(spec);
  if (m) {
    const n = Number(m[1]);
    if (n < 1)
      throw new ShrinkError('CALIBRATION_EMPTY', `${spec}: random calibration needs at least one sample, e.g. random:64`, {
        option: 'calibData',
      });
    return randomCalibration(model, n);
  }
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
  const o = parseOptions(quantizeOptionsSchema, options, 'quantize');
  checkCombination(o);
  refuseQuantized(model, o.requantize);
  if (o.requantize && quantizedOps(model).size > 0) {
    const d = dequantizeWeights(model);
    const r = await quantizeFloat(d.model, o, env, ctx);
    r.report.notes.unshift(...d.notes);
    return r;
  }
  return quantizeFloat(model, o, env, ctx);
}

async function quantizeFloat(model: onnx.IModelProto, o: ResolvedQuantizeOptions, env: QuantizeEnv, ctx?: Ctx): Promise<PassResult> {
  // NaN anywhere is refused. An infinity only where a weight to quantize holds it, and the quantizers say
  // which: a causal mask's -Infinity fill (every GPT-style export has one) is not a weight, and fp16 keeps
  // infinities. Static mode checks every tensor first, or calibration would blame its data for the
  // activations an infinite weight makes.
  const calibrates = o.mode === 'static' && (o.dtype === 'q8' || o.dtype === 'int8' || o.dtype === 'uint8');
  refuseNaN(model, 'quantize', { infinity: calibrates });
  switch (o.dtype) {
    case 'q4':
      return quantizeWeightOnly(model, { ...o, bits: 4 });
    case 'q4f16':
      return quantizeWeightOnly(model, { ...o, bits: 4, float16: true });
    case 'fp16':
      return convertToFloat16(model, o);
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
  if (o.mode === 'dynamic') return noted(withKernelNote(quantizeDynamic(model, o)));
  if (o.mode === 'weight-only') return quantizeWeightOnly(model, { ...o, bits: 8 });
  if (!env.calibration) {
    throw new ShrinkError('CALIBRATION_EMPTY', 'static quantization needs calibration data (a dataset, or random:64 for a smoke test)', {
      option: 'calibData',
      missing: 'calibration',
    });
  }
  const cal = await calibrate(model, env.calibration, { method: o.calibMethod, percentile: o.percentile, samples: o.calibSamples }, ctx);
  // quantizeStatic notes random (smoke-test) calibration itself.
  return noted(withKernelNote(quantizeStatic(model, o, cal.ranges, { method: cal.method, samples: cal.samples, data: cal.data })));
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

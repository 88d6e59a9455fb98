/**
 * Static int8 quantization in QDQ form, as onnxruntime's quantize_static(QuantFormat.QDQ) writes it:
 * activations uint8 asymmetric from calibrated ranges (QuantizeLinear -> DequantizeLinear pairs),
 * weights stored as int8 symmetric codes behind a DequantizeLinear, biases int32 with
 * scale = input scale x weight scale — and a Q/DQ pair on every quantized node's OUTPUT too, since
 * onnxruntime only fuses DQ -> Conv/MatMul/Gemm -> Q into QLinearConv / QLinearMatMul / QGemm when
 * the Q is there (without it the graph runs float kernels plus conversions, slower than the original).
 * The pass decides (static-plan.ts, with the cost rules of static-cost.ts), then places (static-place.ts).
 * Portable: graph rewriting and math only.
 */
import { countUnhandled, Graph as GraphView, selectNodes, ShrinkError, type onnx } from '@shrink/core';
import type { ResolvedQuantizeOptions } from './options.js';
import { staticMinOpset, type StaticTypes } from './ops/qdq-code-types.js';
import { placeStatic } from './static-place.js';
import { planStatic, qdqOpOf, QDQ_COMPUTE, QDQ_OPS, type Range } from './static-plan.js';
import type { NodeOutcome, PassResult, QuantizeReport } from './types.js';
import { describeWeightFormat, weightFormat } from './weight-format.js';

export { MIN_QDQ_REDUCTION } from './static-cost.js';
export { QDQ_OPS } from './static-plan.js';

/** Where the ranges came from, for the report. */
export interface CalibrationSource {
  method: string;
  samples: number;
  data: string;
}

/**
 * The activations calibration must see for the static pass: the data inputs and first outputs of every
 * node the QDQ table handles (constants excluded). Graph inputs are included.
 */
export function calibrationTensors(model: onnx.IModelProto): string[] {
  const graph = GraphView.from(model);
  const out = new Set<string>();
  for (const node of graph.nodes) {
    const op = qdqOpOf(node);
    if (!op) continue;
    const names = [...op.dataInputs.map((i) => node.input[i]), node.output[0]];
    for (const name of names) {
      if (!name || graph.constantValue(name)) continue;
      const dt = graph.dtypeOf(name);
      if (dt === undefined || dt === 'float32') out.add(name);
    }
  }
  return [...out];
}

/**
 * The code types of a static run: uint8 activations; weights as weightFormat says, except that uint8
 * per channel is stored symmetric — onnxruntime's QLinearConv wants one zero point for all channels of
 * a per-channel weight, and zero point 128 everywhere keeps the exact u8u8 kernels.
 */
function staticTypes(options: ResolvedQuantizeOptions, perChannel: boolean): StaticTypes {
  const asked = weightFormat(options);
  return { activation: 'uint8', weight: perChannel && asked.type === 'uint8' ? { ...asked, symmetric: true } : asked };
}

/**
 * Quantizes `model` statically with the activation `ranges` from calibration (tensor name -> [min, max]).
 * Conv, MatMul and Gemm are quantized; MaxPool/Reshape/Flatten/Transpose/Squeeze/Unsqueeze carry their
 * input's quantization through; Relu/Clip after a quantized op fold into its output range. Everything
 * else stays float (report.unhandled). Graph outputs stay float under their own names. The input model
 * is not modified.
 */
export function quantizeStatic(
  model: onnx.IModelProto,
  options: ResolvedQuantizeOptions,
  ranges: ReadonlyMap<string, Range>,
  source?: CalibrationSource,
): PassResult {
  if (options.dtype !== 'q8' && options.dtype !== 'int8' && options.dtype !== 'uint8') {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `static quantization is 8-bit only; dtype '${options.dtype}' has no static mode (use q8, int8 or uint8)`,
    );
  }
  const graph = GraphView.from(model);
  const opset = graph.opsetVersion('') ?? 0;
  const minOpset = staticMinOpset(staticTypes(options, false));
  if (opset < minOpset) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `static quantization needs QuantizeLinear/DequantizeLinear (opset >= ${minOpset}); the model imports opset ${opset}`,
    );
  }
  const notes: string[] = [];
  let perChannel = options.perChannel;
  if (perChannel && opset < 13) {
    perChannel = false;
    notes.push(
      `per-channel weights need DequantizeLinear with an axis (opset >= 13); the model imports opset ${opset}, so weights are per tensor`,
    );
  }
  const types = staticTypes(options, perChannel);
  const unhandled = countUnhandled(graph, new Set(QDQ_OPS.keys()));
  const selector = selectNodes(graph, options);
  graph.topoSort();

  const decisions = planStatic(graph, { options, selector, ranges, perChannel, opset, types });
  notes.push(...placeStatic(graph, decisions, types));
  const outcomes = decisions.outcomeAt.filter((o): o is NodeOutcome => o !== undefined);

  const quantized = outcomes.filter((o) => o.action === 'quantized' && QDQ_COMPUTE.has(o.opType)).length;
  const compute = outcomes.filter((o) => QDQ_COMPUTE.has(o.opType)).length;
  notes.unshift(
    `activations ${types.activation} asymmetric from calibrated ranges; weights ${describeWeightFormat(types.weight)} ${perChannel ? 'per channel' : 'per tensor'}; biases int32 (scale = input scale x weight scale)`,
    `${quantized} of ${compute} Conv/MatMul/Gemm node(s) quantized; onnxruntime fuses each DequantizeLinear -> op -> QuantizeLinear group into QLinearConv / QLinearMatMul / QGemm at graph optimization level 'extended' or 'all' — with optimizations off the QDQ graph runs float kernels plus conversions and is slower than the original`,
    'static quantization can make a model slower (float ops between quantized ones add QuantizeLinear/DequantizeLinear work); the measured latency, not this pass, says whether it got faster',
  );
  const data = source?.data ?? options.calibData ?? '';
  if (data.startsWith('random:')) {
    notes.push(
      `calibrated on random inputs (${data}): a smoke test — the ranges do not reflect real data and accuracy may drop; calibrate on real samples for a model you keep`,
    );
  }
  if (compute > 0 && quantized === 0) notes.push('no Conv/MatMul/Gemm node was quantized: the output model computes as the input did');

  const report: QuantizeReport = {
    dtype: options.dtype,
    mode: 'static',
    nodes: outcomes,
    unhandled,
    weightFormat: types.weight,
    calibration: {
      method: source?.method ?? options.calibMethod,
      samples: source?.samples ?? 0,
      data,
      ranges: Object.fromEntries(decisions.ranges),
    },
    notes,
  };
  return { model: graph.toModel(), report };
}

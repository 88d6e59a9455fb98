import { Graph, ShrinkError, type onnx, countUnhandled, selectNodes } from '@shrink/core';
import { quantizeConvDynamic } from './ops/dynamic-conv.js';
import { skipped, type DynamicState } from './ops/dynamic-common.js';
import { quantizeGatherDynamic } from './ops/dynamic-gather.js';
import { quantizeGemmDynamic, quantizeMatMulDynamic } from './ops/dynamic-matmul.js';
import type { ResolvedQuantizeOptions } from './options.js';
import { weightFormat } from './weight-format.js';
import type { NodeOutcome, OpQuantizer, PassResult } from './types.js';

/** Op types dynamic quantization rewrites, each to its onnxruntime integer form. */
export const DYNAMIC_HANDLERS: ReadonlyMap<string, OpQuantizer<DynamicState>> = new Map([
  ['MatMul', quantizeMatMulDynamic],
  ['Gemm', quantizeGemmDynamic],
  ['Conv', quantizeConvDynamic],
  ['Gather', quantizeGatherDynamic],
]);

/** DynamicQuantizeLinear arrived in opset 11. */
export const DYNAMIC_MIN_OPSET = 11;


/**
 * Dynamic 8-bit quantization, as onnxruntime's `quantize_dynamic`: weights are stored as 8-bit codes;
 * activations are quantized at run time by DynamicQuantizeLinear (uint8), and integer ops
 * (MatMulInteger, ConvInteger) do the work, their int32 result scaled back to float. onnxruntime's CPU
 * provider fuses the MatMul pattern into DynamicQuantizeMatMul / MatMulIntegerToFloat. Weights are
 * stored as weightFormat says (int8 symmetric, uint8 asymmetric, optionally 7-bit; Conv: always uint8).
 * The input model is not touched; ops without a handler pass through and are counted in report.unhandled.
 */
export function quantizeDynamic(model: onnx.IModelProto, options: ResolvedQuantizeOptions): PassResult {
  if (options.dtype !== 'q8' && options.dtype !== 'int8' && options.dtype !== 'uint8') {
    throw new ShrinkError('INVALID_ARGUMENT', `dynamic quantization is 8-bit: dtype must be q8, int8 or uint8, not '${options.dtype}'`);
  }
  const format = weightFormat(options);
  const graph = Graph.from(model);
  const candidates = graph.nodes.filter((n) => (n.domain || '') === '' && DYNAMIC_HANDLERS.has(n.opType));
  const opset = graph.opsetVersion('') ?? 0;
  if (candidates.length > 0 && opset < DYNAMIC_MIN_OPSET) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `dynamic quantization needs default-domain opset >= ${DYNAMIC_MIN_OPSET} (DynamicQuantizeLinear); the model imports ${opset === 0 ? 'no default opset' : `opset ${opset}`}: convert it to opset ${DYNAMIC_MIN_OPSET}+ first`,
    );
  }
  const select = selectNodes(graph, options);
  const unhandled = countUnhandled(graph, new Set(DYNAMIC_HANDLERS.keys()));
  const state: DynamicState = {
    format,
    perChannel: options.perChannel,
    opset,
    activations: new Map(),
    weights: new Map(),
    replacedInputs: new Set(),
    notes: new Set(),
  };
  const nodes: NodeOutcome[] = [];
  for (const node of candidates) {
    const sel = select.isSelected(node);
    if (!sel.ok) {
      nodes.push(skipped(node, sel.reason));
      continue;
    }
    const inputs = [...node.input];
    const outcome = DYNAMIC_HANDLERS.get(node.opType)!(graph, node, options, state);
    if (outcome.action === 'quantized') for (const i of inputs) if (i) state.replacedInputs.add(i);
    nodes.push(outcome);
  }
  dropUnread(graph, state.replacedInputs);
  const notes = [...state.notes];
  if (!nodes.some((n) => n.action === 'quantized')) {
    notes.push(
      candidates.length === 0
        ? 'no quantizable weights: the model has no MatMul, Gemm, Conv or Gather node; it is returned unchanged'
        : 'no quantizable weights: no MatMul, Gemm, Conv or Gather node qualified (see each node\'s reason); the model is returned unchanged',
    );
  }
  return { model: graph.toModel(), report: { dtype: options.dtype, mode: 'dynamic', nodes, unhandled, weightFormat: format, notes } };
}

/**
 * Removes the float tensors the replaced nodes read when nothing reads them now (weights, Gemm's C,
 * Conv's bias): initializers, or the Constant nodes that made them. Anything else is left alone.
 */
function dropUnread(graph: Graph, names: ReadonlySet<string>): void {
  for (const name of names) {
    if (graph.consumers(name).length > 0 || graph.isGraphOutput(name)) continue;
    if (graph.isInitializer(name)) {
      if (!graph.isGraphInput(name)) graph.removeInitializer(name);
      continue;
    }
    const p = graph.producer(name);
    if (p && p.opType === 'Constant' && (p.domain || '') === '' && p.output.length === 1) graph.removeNode(p);
  }
}

import { countUnhandled, Graph, isDefaultDomain, nodeLabel, selectNodes, ShrinkError, type onnx } from '@shrink/core';
import { dropUnread } from './drop-unread.js';
import { dynamicPlacer } from './dynamic-place.js';
import { computesInFloat16, float32Casts, planInFloat32 } from './float16-compute.js';
import { nodeOutcome } from './node-outcome.js';
import { withSubgraphs } from './subgraphs.js';
import { planTiedHead, tiedTable, tieGatherPlan } from './tied.js';
import { planConvDynamic } from './ops/dynamic-conv.js';
import { planConvWeightOnly } from './ops/dynamic-conv-weight-only.js';
import { constantWeight } from './ops/dynamic-common.js';
import { planMatMulWeightOnly } from './ops/dynamic-weight-only.js';
import { planGatherDynamic } from './ops/dynamic-gather.js';
import { planGemmDynamic, planMatMulDynamic } from './ops/dynamic-matmul.js';
import { planRecurrentWeightOnly } from './ops/dynamic-recurrent.js';
import { quantizeRecurrentSources, RECURRENT_SOURCE_NOTE } from './ops/recurrent-sources.js';
import type { DynamicDecision, DynamicOp, DynamicView } from './ops/dynamic-types.js';
import type { ResolvedQuantizeOptions } from './options.js';
import { weightFormat } from './weight-format.js';
import type { NodeOutcome, PassResult } from './types.js';

/** Op types dynamic quantization rewrites, each to its onnxruntime integer form. */
export const DYNAMIC_HANDLERS: ReadonlyMap<string, DynamicOp> = new Map([
  ['MatMul', planMatMulDynamic],
  ['Gemm', planGemmDynamic],
  ['Conv', planConvDynamic],
  ['Gather', planGatherDynamic],
  ...(['LSTM', 'GRU', 'RNN'] as const).map((op) => [op, planRecurrentWeightOnly] as const),
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
 * Weights inside If/Loop/Scan bodies are quantized too (withSubgraphs).
 */
export function quantizeDynamic(model: onnx.IModelProto, options: ResolvedQuantizeOptions): PassResult {
  if (options.dtype !== 'q8' && options.dtype !== 'int8' && options.dtype !== 'uint8') {
    throw new ShrinkError('INVALID_ARGUMENT', `dynamic quantization is 8-bit: dtype must be q8, int8 or uint8, not '${options.dtype}'`);
  }
  const sources = quantizeRecurrentSources(model);
  const r = withSubgraphs(sources.model, (m) => dynamicGraph(m, options));
  if (sources.stored.length > 0) {
    r.report.notes.push(RECURRENT_SOURCE_NOTE);
    // The constants recurrent weights are built from were stored as int8 before any node was visited:
    // they are changes too (a model whose only weights feed an LSTM this way is not "unchanged").
    for (const name of sources.stored) {
      r.report.nodes.push({ name, opType: 'Constant', action: 'quantized', reason: 'recurrent weight source stored as int8 codes' });
    }
  }
  if (!r.report.nodes.some((n) => n.action === 'quantized')) {
    r.report.notes.push(
      r.report.nodes.length === 0
        ? 'no quantizable weights: the model has no MatMul, Gemm, Conv or Gather node; it is returned unchanged'
        : "no quantizable weights: no MatMul, Gemm, Conv or Gather node qualified (see each node's reason); the model is returned unchanged",
    );
  }
  return r;
}

/** The node's plan: a tied embedding's Gather and output head share one set of codes (tied.ts). */
function planNode(
  node: onnx.NodeProto,
  view: DynamicView,
  { heads, tables }: { heads: ReadonlyMap<onnx.NodeProto, string | undefined>; tables: ReadonlySet<string | undefined> },
): DynamicDecision {
  const table = heads.get(node);
  if (table !== undefined) return planTiedHead(node, view, table);
  const handler = DYNAMIC_HANDLERS.get(node.opType)!;
  if (node.opType !== 'Gather' || !tables.has(node.input[0] ?? '')) return handler(node, view);
  const d = handler(node, { ...view, perChannel: false });
  return d.kind === 'plan' ? { kind: 'plan', plan: tieGatherPlan(d.plan, view) } : d;
}

/** A node floatCompute lists: int8 storage, float compute, where the op has such a form. */
function planFloatCompute(node: onnx.NodeProto, graph: Graph): DynamicDecision {
  const why = 'floatCompute lists it';
  if (node.opType === 'MatMul' || node.opType === 'Gemm') return planMatMulWeightOnly(node, graph, why);
  if (node.opType === 'Conv') {
    const w = constantWeight(graph, node.input[1], 'W');
    return typeof w === 'string' ? { kind: 'skip', reason: w } : planConvWeightOnly(graph, node, w, why);
  }
  return { kind: 'skip', reason: `floatCompute lists it, and ${node.opType} has no int8-storage float-compute form; left float` };
}

/** One graph's nodes (its subgraphs are withSubgraphs' part). */
function dynamicGraph(model: onnx.IModelProto, options: ResolvedQuantizeOptions): PassResult {
  const format = weightFormat(options);
  const graph = Graph.from(model);
  const candidates = graph.nodes.filter((n) => isDefaultDomain(n) && DYNAMIC_HANDLERS.has(n.opType));
  const opset = graph.opsetVersion('') ?? 0;
  if (candidates.length > 0 && opset < DYNAMIC_MIN_OPSET) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `dynamic quantization needs default-domain opset >= ${DYNAMIC_MIN_OPSET} (DynamicQuantizeLinear); the model imports ${opset === 0 ? 'no default opset' : `opset ${opset}`}: convert it to opset ${DYNAMIC_MIN_OPSET}+ first`,
    );
  }
  const select = selectNodes(graph, options);
  const floatCompute = new Set(options.floatCompute ?? []);
  const unhandled = countUnhandled(graph, new Set(DYNAMIC_HANDLERS.keys()));
  const view: DynamicView = { graph, format, perChannel: options.perChannel, convFormat: options.convFormat, opset };
  const placer = dynamicPlacer(graph);
  const casts = float32Casts(graph);
  // Found before any node is replaced: the head's table is no Gather's once the Gather reads codes.
  const heads = new Map(candidates.map((n) => [n, tiedTable(graph, n)] as const).filter(([, t]) => t !== undefined));
  const tied = { heads, tables: new Set(heads.values()) };
  // Float tensors some replaced node read: dropped at the end when nothing reads them any more.
  const replacedInputs = new Set<string>();
  const notes = new Set<string>();
  const nodes: NodeOutcome[] = [];
  for (const node of candidates) {
    const sel = select.isSelected(node);
    if (!sel.ok) {
      nodes.push(nodeOutcome(node, 'skipped', { reason: sel.reason }));
      continue;
    }
    const d =
      floatCompute.has(nodeLabel(node)) || floatCompute.has(node.opType) ? planFloatCompute(node, graph) : planNode(node, view, tied);
    if (d.kind === 'skip') {
      nodes.push(nodeOutcome(node, 'skipped', { reason: d.reason }));
      continue;
    }
    for (const i of node.input) if (i) replacedInputs.add(i);
    const plan = computesInFloat16(graph, node) && !d.plan.ownPrecision ? planInFloat32(node, d.plan, casts) : d.plan;
    const placed = placer.place(node, plan);
    for (const n of plan.notes ?? []) notes.add(n);
    nodes.push(nodeOutcome(node, 'quantized', { reason: plan.reason, replacedBy: placed.replacedBy, weights: placed.weights }));
  }
  dropUnread(graph, replacedInputs, { keepInputs: true });
  return {
    model: graph.toModel(),
    report: { dtype: options.dtype, mode: 'dynamic', nodes, unhandled, weightFormat: format, notes: [...notes] },
  };
}

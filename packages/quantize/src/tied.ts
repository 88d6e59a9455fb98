/**
 * Tied embeddings in dynamic 8-bit quantization. Language models share one table E [V, D] between the
 * token lookup (Gather) and the output head, which multiplies by E transposed: MatMul(h, Transpose(E))
 * or Gemm(h, E, transB=1). Quantized separately, the head would store a second, transposed copy of the
 * codes. Here both read one set of codes, scale and zero point (the Gather's key): the head transposes
 * the int8 codes at run time. The shared codes are per tensor, in the head's format (7-bit when q8 asks
 * for it), so the table is right for both.
 */
import { attrFloat, attrInt, attrInts, isDefaultDomain, nodeLabel, type Graph, type onnx } from '@shrink/core';
import { describeWeightFormat } from './weight-format.js';
import { constantWeight, dequantizeResult } from './ops/dynamic-common.js';
import {
  activationPart,
  newValue,
  plannedWeight,
  weightPart,
  type DynamicDecision,
  type DynamicPlan,
  type DynamicView,
  type PlannedNode,
} from './ops/dynamic-types.js';

/** The key the Gather handler stores a per-tensor table under; the head's plan uses the same. */
const tableKey = (table: string): string => `${table}|gather|tensor`;

/** The table `node` multiplies by transposed when a Gather also looks it up, else undefined. */
export function tiedTable(graph: Graph, node: onnx.NodeProto): string | undefined {
  let table: string | undefined;
  if (node.opType === 'MatMul') {
    const t = graph.producer(node.input[1] ?? '');
    const perm = t ? attrInts(t, 'perm') : undefined;
    if (t && t.opType === 'Transpose' && isDefaultDomain(t) && (perm === undefined || (perm[0] === 1 && perm[1] === 0))) table = t.input[0];
  } else if (node.opType === 'Gemm') {
    const plain = attrInt(node, 'transA', 0) === 0 && attrFloat(node, 'alpha', 1) === 1 && attrFloat(node, 'beta', 1) === 1;
    if (plain && attrInt(node, 'transB', 0) === 1) table = node.input[1];
  }
  if (!table || !graph.isInitializer(table)) return undefined;
  const looked = graph.consumers(table).some((c) => c.opType === 'Gather' && isDefaultDomain(c) && c.input[0] === table);
  return looked ? table : undefined;
}

/** The Gather plan of a tied table, storing the codes as the head reads them: per tensor, the head's range. */
export function tieGatherPlan(plan: DynamicPlan, view: DynamicView): DynamicPlan {
  return {
    ...plan,
    initializers: plan.initializers.map((i) => (i.kind === 'weight' ? { ...i, reduceRange: view.format.reduceRange } : i)),
    reason: `${plan.reason}; shared with the output head that multiplies by it`,
  };
}

/** The head: MatMulInteger(A codes, Transpose(table codes)), scaled back to float under the node's output name. */
export function planTiedHead(node: onnx.NodeProto, view: DynamicView, table: string): DynamicDecision {
  const w = constantWeight(view.graph, table, 'table');
  if (typeof w === 'string') return { kind: 'skip', reason: w };
  if (w.dims.length !== 2) return { kind: 'skip', reason: `table '${table}' has rank ${w.dims.length}` };
  const { format } = view;
  const key = tableKey(table);
  const a = node.input[0]!;
  const output = node.output[0]!;
  const base = nodeLabel(node);
  const codesT = newValue(`${table}_quantized_transposed`);
  const intOut = newValue(`${output}_output_quantized`);
  const bias = node.opType === 'Gemm' && node.input[2] ? node.input[2] : undefined;
  const nodes: PlannedNode[] = [
    {
      opType: 'Transpose',
      name: `${base}_codes_transpose`,
      inputs: [weightPart(key, 'codes')],
      outputs: [codesT],
      attrs: { perm: [1, 0] },
    },
    {
      opType: 'MatMulInteger',
      name: `${base}_quant`,
      inputs: [activationPart(a, 'codes'), codesT, activationPart(a, 'zeroPoint'), weightPart(key, 'zeroPoint')],
      outputs: [intOut],
    },
    ...dequantizeResult(intOut, activationPart(a, 'scale'), weightPart(key, 'scale'), output, `${base}_quant`, bias),
  ];
  return {
    kind: 'plan',
    plan: {
      initializers: [plannedWeight(key, table, w, { type: format.type, symmetric: format.symmetric, reduceRange: format.reduceRange })],
      nodes,
      reason: `${describeWeightFormat(format)} weights per tensor, the codes shared with the Gather of '${table}' (transposed at run time)`,
    },
  };
}

import { attrInt, dtypeFromOnnx, isExternalTensor, type Graph, type onnx } from '@shrink/core';
import type { LayerOutcome } from '../types.js';
import type { NodeSelector } from '../select.js';

/** Where a weight-bearing op keeps its weight, and along which axis of it the op sums. */
export interface WeightOp {
  /** Input index of the weight. */
  weight: number;
  /** Axis of the stored weight summed over to form one output (N:M groups run along it). */
  reductionAxis(node: onnx.INodeProto, rank: number): number;
  /** Name of the bias the op adds, when it has one. */
  bias(graph: Graph, node: onnx.INodeProto): string | undefined;
}

const biasInput = (graph: Graph, node: onnx.INodeProto): string | undefined => (node.input ?? [])[2] || undefined;

/**
 * The explicit handler table of the unstructured passes (magnitude, N:M). Each entry says which
 * input is the weight and which axis is the reduction axis in the layout as stored.
 */
export const WEIGHT_OPS: ReadonlyMap<string, WeightOp> = new Map<string, WeightOp>([
  [
    'MatMul',
    {
      weight: 1,
      // B is [..., K, N]; a 1-D B is [K].
      reductionAxis: (_node, rank) => Math.max(0, rank - 2),
      // A Dense layer exported to ONNX is MatMul followed by Add of a constant: that constant is its bias.
      bias(graph, node) {
        const out = (node.output ?? [])[0];
        const users = out ? graph.consumers(out) : [];
        const add = users.length === 1 ? users[0] : undefined;
        if (!add || add.opType !== 'Add' || (add.domain ?? '') !== '') return undefined;
        const other = add.input.find((i) => i !== out);
        return other && graph.isInitializer(other) ? other : undefined;
      },
    },
  ],
  // B is [K, N], or [N, K] with transB=1.
  ['Gemm', { weight: 1, reductionAxis: (node) => (attrInt(node, 'transB', 0) !== 0 ? 1 : 0), bias: biasInput }],
  // W is [O, I/group, kh, kw]: an output sums over input channels (and the kernel window).
  ['Conv', { weight: 1, reductionAxis: () => 1, bias: biasInput }],
  // W is [I, O/group, kh, kw]: an output channel sums over the input channels, axis 0.
  ['ConvTranspose', { weight: 1, reductionAxis: () => 0, bias: biasInput }],
]);

/** A constant float32 tensor a pass may rewrite: `values` is the pass's own copy. */
export interface PrunableTensor {
  name: string;
  dims: number[];
  values: Float32Array;
}

/** One selected weight-bearing node whose weight can be pruned. */
export interface WeightTarget {
  node: onnx.NodeProto;
  label: string;
  weight: PrunableTensor;
  /** Reduction axis of the stored weight. */
  axis: number;
  /** Its bias, only when asked for (`withBias`) and prunable. */
  bias?: PrunableTensor;
}

/** The node's label in the report: its name, else what it writes. */
export function nodeLabel(node: onnx.INodeProto): string {
  return node.name || (node.output ?? [])[0] || '';
}

/** Why `name` is not a prunable float32 initializer, or its copied values. */
function prunable(graph: Graph, name: string | undefined, what: string): PrunableTensor | string {
  if (!name) return `${what} is missing`;
  if (graph.isGraphInput(name)) return `${what} '${name}' is a graph input (it can change at run time)`;
  const t = graph.initializer(name);
  if (!t) return `${what} '${name}' is not an initializer (computed at run time or a Constant node)`;
  if (isExternalTensor(t)) return `${what} '${name}' keeps its data in an external file; load the model through @shrink/core/io first`;
  const dtype = dtypeFromOnnx(t.dataType ?? 0);
  if (dtype !== 'float32') return `${what} '${name}' is ${dtype}; only float32 weights are pruned`;
  // readTensor may return a view over the model's bytes: copy before writing.
  const v = graph.readInitializer(name);
  return { name, dims: v.dims, values: Float32Array.from(v.data as Float32Array) };
}

/**
 * Walks the weight-bearing nodes in graph order: each is either a target, or a skipped row for the
 * report. A weight shared by several nodes is pruned once, at its first consumer.
 */
export function collectTargets(
  graph: Graph,
  select: NodeSelector,
  withBias: boolean,
): Array<{ target: WeightTarget } | { skipped: LayerOutcome }> {
  const taken = new Map<string, string>();
  const out: Array<{ target: WeightTarget } | { skipped: LayerOutcome }> = [];
  for (const node of graph.nodes) {
    const op = (node.domain ?? '') === '' || node.domain === 'ai.onnx' ? WEIGHT_OPS.get(node.opType) : undefined;
    if (!op) continue;
    const label = nodeLabel(node);
    const skip = (reason: string): void => void out.push({ skipped: { name: label, opType: node.opType, action: 'skipped', reason } });
    const sel = select.isSelected(node);
    if (!sel.ok) {
      skip(sel.reason);
      continue;
    }
    const wName = node.input[op.weight];
    const owner = wName !== undefined ? taken.get(wName) : undefined;
    if (owner !== undefined) {
      skip(`weight '${wName}' is shared with '${owner}', pruned there`);
      continue;
    }
    const weight = prunable(graph, wName, 'weight');
    if (typeof weight === 'string') {
      skip(weight);
      continue;
    }
    taken.set(weight.name, label);
    const target: WeightTarget = { node, label, weight, axis: op.reductionAxis(node, weight.dims.length) };
    const bName = withBias ? op.bias(graph, node) : undefined;
    if (bName !== undefined && !taken.has(bName)) {
      const bias = prunable(graph, bName, 'bias');
      if (typeof bias !== 'string') {
        taken.set(bias.name, label);
        target.bias = bias;
      }
    }
    out.push({ target });
  }
  return out;
}

/** Zero count of a tensor. */
export function countZeros(values: Float32Array): number {
  let z = 0;
  for (const v of values) if (v === 0) z++;
  return z;
}

/** Writes a pruned tensor back under its name (the graph takes ownership of the array). */
export function writeBack(graph: Graph, t: PrunableTensor): void {
  graph.setInitializer(t.name, 'float32', t.dims, t.values, { copy: false });
}

import { attrInt, isExternalTensor, nodeLabel, tensorNumel, type Graph, type onnx } from '@shrink/core';
import type { UnitSlice } from './structured-tensor.js';

export type Found<T> = T | { skip: string };

export function isSkip<T extends object>(f: Found<T>): f is { skip: string } {
  return 'skip' in f;
}

/** A node as skip reasons name it: op type and report label. */
export function describeNode(node: onnx.INodeProto): string {
  return `${node.opType} '${nodeLabel(node)}'`;
}

/** A layer whose output units can be removed: its weight, its own bias, and where the units sit in its output. */
export interface ProducerPlan {
  weight: UnitSlice;
  bias?: UnitSlice;
  units: number;
  /** Position of the unit axis counted from the last axis of the output (0 = last, as in MatMul). */
  fromEnd: number;
  /** Rank of the output when known (Conv: from its weight). */
  rank: number | undefined;
}

export type ProducerRule = (graph: Graph, node: onnx.NodeProto, shapes: ReadonlyMap<string, readonly number[]>) => Found<ProducerPlan>;
/** The input-side slice of the next layer reading `value`: the weight rows that multiply the removed units. */
export type ConsumerRule = (graph: Graph, node: onnx.NodeProto, value: string) => Found<UnitSlice>;

/** Whether `name` is computed from 8-bit codes: DequantizeLinear, or Cast + Mul as q8 writes a Conv weight (maybe then Cast to float16). */
function fromCodes(graph: Graph, name: string): boolean {
  let p = graph.producer(name);
  if (p?.opType === 'Cast') p = graph.producer(p.input[0] ?? '');
  if (p?.opType === 'DequantizeLinear') return true;
  if (p?.opType !== 'Mul') return false;
  return p.input.some((i) => {
    const c = graph.producer(i);
    return c?.opType === 'Cast' && ['int8', 'uint8'].includes(graph.dtypeOf(c.input[0] ?? '') ?? '');
  });
}

/** A float32 initializer only `node` reads (a shared or computed weight cannot be resized for one layer). */
function ownWeight(graph: Graph, node: onnx.NodeProto, input: number, rank?: number): Found<{ name: string; dims: number[] }> {
  const name = node.input[input] ?? '';
  const at = describeNode(node);
  if (name !== '' && fromCodes(graph, name))
    return { skip: `${at}: weight '${name}' is dequantized from 8-bit codes (a quantized model); prune structurally before quantizing` };
  if (name === '' || !graph.isInitializer(name)) return { skip: `${at}: input ${input} is not a constant initializer` };
  if (isExternalTensor(graph.initializer(name)!)) return { skip: `${at}: weight '${name}' is stored as external data (not loaded)` };
  if (graph.dtypeOf(name) !== 'float32') return { skip: `${at}: weight '${name}' is ${graph.dtypeOf(name)}, only float32 is pruned` };
  const users = graph.consumers(name).length;
  if (users !== 1) return { skip: `${at}: weight '${name}' is shared by ${users} nodes` };
  const dims = (graph.shapeOf(name) ?? []) as number[];
  if (rank !== undefined && dims.length !== rank) return { skip: `${at}: weight '${name}' has rank ${dims.length}, expected ${rank}` };
  return { name, dims };
}

/** Gemm C / Conv B: sliced when it has one entry per unit, left alone when it broadcasts. */
function ownBias(graph: Graph, node: onnx.NodeProto, input: number, units: number): Found<{ bias?: UnitSlice }> {
  if (!node.input[input]) return {};
  const b = ownWeight(graph, node, input);
  if (isSkip(b)) return b;
  const n = tensorNumel(b.dims);
  if (n === 1) return {};
  if (b.dims[b.dims.length - 1] === units && n === units) return { bias: { tensor: b.name, axis: b.dims.length - 1, expand: 1 } };
  return { skip: `${describeNode(node)}: bias '${b.name}' of shape [${b.dims.join(', ')}] is not one value per unit` };
}

const matmulProducer: ProducerRule = (graph, node, shapes) => {
  const w = ownWeight(graph, node, 1, 2);
  if (isSkip(w)) return w;
  const rank = shapes.get(node.output[0] ?? '')?.length;
  return { weight: { tensor: w.name, axis: 1, expand: 1 }, units: w.dims[1]!, fromEnd: 0, rank };
};

const gemmProducer: ProducerRule = (graph, node) => {
  const w = ownWeight(graph, node, 1, 2);
  if (isSkip(w)) return w;
  const axis = attrInt(node, 'transB', 0) === 1 ? 0 : 1;
  const units = w.dims[axis]!;
  const b = ownBias(graph, node, 2, units);
  if (isSkip(b)) return b;
  return { weight: { tensor: w.name, axis, expand: 1 }, ...b, units, fromEnd: 0, rank: 2 };
};

const convProducer: ProducerRule = (graph, node) => {
  if (attrInt(node, 'group', 1) !== 1)
    return { skip: `${describeNode(node)}: group=${attrInt(node, 'group', 1)} (depthwise/grouped Conv is not pruned)` };
  const w = ownWeight(graph, node, 1);
  if (isSkip(w)) return w;
  const units = w.dims[0]!;
  const b = ownBias(graph, node, 2, units);
  if (isSkip(b)) return b;
  return { weight: { tensor: w.name, axis: 0, expand: 1 }, ...b, units, fromEnd: w.dims.length - 2, rank: w.dims.length };
};

export const PRODUCERS: ReadonlyMap<string, ProducerRule> = new Map([
  ['MatMul', matmulProducer],
  ['Gemm', gemmProducer],
  ['Conv', convProducer],
]);

const matmulConsumer: ConsumerRule = (graph, node, value) => {
  if (node.input[0] !== value || node.input[1] === value) return { skip: `${describeNode(node)} reads '${value}' as its right operand` };
  const w = ownWeight(graph, node, 1, 2);
  if (isSkip(w)) return w;
  return { tensor: w.name, axis: 0, expand: 1 };
};

const gemmConsumer: ConsumerRule = (graph, node, value) => {
  if (node.input[0] !== value || node.input[1] === value) return { skip: `${describeNode(node)} reads '${value}' as its B operand` };
  if (attrInt(node, 'transA', 0) !== 0) return { skip: `${describeNode(node)} has transA=1` };
  const w = ownWeight(graph, node, 1, 2);
  if (isSkip(w)) return w;
  return { tensor: w.name, axis: attrInt(node, 'transB', 0) === 1 ? 1 : 0, expand: 1 };
};

const convConsumer: ConsumerRule = (graph, node, value) => {
  if (node.input[0] !== value) return { skip: `${describeNode(node)} reads '${value}' as a weight` };
  if (attrInt(node, 'group', 1) !== 1) return { skip: `next ${describeNode(node)} is grouped (group=${attrInt(node, 'group', 1)})` };
  const w = ownWeight(graph, node, 1);
  if (isSkip(w)) return w;
  return { tensor: w.name, axis: 1, expand: 1 };
};

export const CONSUMERS: ReadonlyMap<string, ConsumerRule> = new Map([
  ['MatMul', matmulConsumer],
  ['Gemm', gemmConsumer],
  ['Conv', convConsumer],
]);

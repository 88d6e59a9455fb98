import { makeNode, type Graph, type onnx, type TensorValue } from '@shrink/core';
import { quantizeTensor } from '../math/params.js';
import type { NodeOutcome } from '../types.js';
import type { WeightFormat } from '../weight-format.js';

/** Shared state of one dynamic-quantization run, handed to every op handler. */
export interface DynamicState {
  /** Weight codes for MatMul, Gemm and Gather. */
  readonly format: WeightFormat;
  readonly perChannel: boolean;
  /** Default-domain opset of the model. */
  readonly opset: number;
  /** DynamicQuantizeLinear outputs per float activation, shared by all its consumers (as onnxruntime does). */
  readonly activations: Map<string, QuantizedActivation>;
  /** Quantized weights by source tensor and layout, so a shared weight is stored once. */
  readonly weights: Map<string, QuantizedWeight>;
  /** Float tensors some replaced node read: dropped at the end when nothing reads them any more. */
  readonly replacedInputs: Set<string>;
  /** Run-level notes for the report (deduplicated). */
  readonly notes: Set<string>;
}

export interface QuantizedActivation {
  q: string;
  scale: string;
  zeroPoint: string;
}

export interface QuantizedWeight {
  q: string;
  scale: string;
  zeroPoint: string;
  /** Set when per channel: the axis of the stored codes. */
  axis?: number;
}

type WeightEntry = NonNullable<NodeOutcome['weights']>[number];

/** The node's label in the report: its name, else what it writes. */
export function nodeLabel(node: onnx.INodeProto): string {
  return node.name || (node.output ?? [])[0] || '';
}

export function skipped(node: onnx.INodeProto, reason: string): NodeOutcome {
  return { name: nodeLabel(node), opType: node.opType ?? '', action: 'skipped', reason };
}

/**
 * A float32 constant weight (initializer or Constant output), or why the input does not qualify.
 * An initializer that is also a graph input can be overridden at run time, so it is not constant.
 */
export function constantWeight(graph: Graph, name: string | undefined, what: string): TensorValue | string {
  if (!name) return `${what} is missing`;
  if (graph.isGraphInput(name)) return `${what} '${name}' is a graph input (it can change at run time)`;
  const v = graph.constantValue(name);
  if (!v) return `${what} '${name}' is computed at run time, not a constant weight`;
  if (v.dtype !== 'float32') return `${what} '${name}' is ${v.dtype}; only float32 weights are quantized`;
  return v;
}

/** Why a float activation cannot go through DynamicQuantizeLinear (float32 only), or undefined. */
export function activationProblem(graph: Graph, name: string | undefined): string | undefined {
  if (!name) return 'the activation input is missing';
  const dt = graph.dtypeOf(name);
  if (dt !== undefined && dt !== 'float32') return `activation '${name}' is ${dt}; DynamicQuantizeLinear takes float32 only`;
  return undefined;
}

/** DynamicQuantizeLinear of `input`, added before `before` the first time and shared afterwards. */
export function quantizeActivation(graph: Graph, state: DynamicState, input: string, before: onnx.INodeProto): QuantizedActivation {
  const known = state.activations.get(input);
  if (known) return known;
  const q: QuantizedActivation = {
    q: graph.uniqueName(`${input}_quantized`),
    scale: graph.uniqueName(`${input}_scale`),
    zeroPoint: graph.uniqueName(`${input}_zero_point`),
  };
  graph.addNode(
    makeNode('DynamicQuantizeLinear', [input], [q.q, q.scale, q.zeroPoint], {}, { name: graph.uniqueNodeName(`${input}_QuantizeLinear`) }),
    { before },
  );
  state.activations.set(input, q);
  return q;
}

/**
 * Quantizes a weight into three initializers (codes, scale, zero point), once per `key`. `scaleDims`
 * shapes the scale for broadcasting against the op's output (e.g. [M, 1, 1] for Conv); zero points
 * stay scalar or 1-D, as the integer ops want them. Returns the names and, the first time, the report
 * entries of what was written.
 */
export function storeWeight(
  graph: Graph,
  state: DynamicState,
  key: string,
  base: string,
  data: Float32Array,
  dims: readonly number[],
  opts: { type: 'int8' | 'uint8'; symmetric: boolean; reduceRange?: boolean; axis?: number; scaleDims?: readonly number[]; source: string },
): { weight: QuantizedWeight; written: WeightEntry[] } {
  const known = state.weights.get(key);
  if (known) return { weight: known, written: [] };
  const r = quantizeTensor(data, dims, {
    type: opts.type,
    symmetric: opts.symmetric,
    ...(opts.reduceRange ? { reduceRange: true } : {}),
    ...(opts.axis === undefined ? {} : { axis: opts.axis }),
    name: opts.source,
  });
  const perChannel = r.axis !== undefined;
  const weight: QuantizedWeight = {
    q: graph.uniqueName(`${base}_quantized`),
    scale: graph.uniqueName(`${base}_scale`),
    zeroPoint: graph.uniqueName(`${base}_zero_point`),
    ...(perChannel ? { axis: r.axis } : {}),
  };
  // quantizeTensor's arrays are fresh and written once: the initializers take them over uncopied.
  const own = { copy: false };
  graph.setInitializer(weight.q, opts.type, dims, r.q, own);
  graph.setInitializer(weight.scale, 'float32', perChannel ? (opts.scaleDims ?? [r.scale.length]) : [], r.scale, own);
  graph.setInitializer(weight.zeroPoint, opts.type, perChannel ? [r.zeroPoint.length] : [], r.zeroPoint, own);
  state.weights.set(key, weight);
  const written: WeightEntry[] = [
    { name: weight.q, dtype: opts.type, elements: r.q.length, bytes: r.q.length },
    { name: weight.scale, dtype: 'float32', elements: r.scale.length, bytes: 4 * r.scale.length },
    { name: weight.zeroPoint, dtype: opts.type, elements: r.zeroPoint.length, bytes: r.zeroPoint.length },
  ];
  return { weight, written };
}

/**
 * The integer op's int32 result back to float, in the pattern onnxruntime fuses into
 * MatMulIntegerToFloat / DynamicQuantizeMatMul: Cast(float) then Mul by Mul(A_scale, B_scale)
 * (scales in that order: the fusion reads them by position), then an optional bias Add whose constant
 * is the second input. The last node writes `output`.
 */
export function dequantizeResult(
  graph: Graph,
  intOutput: string,
  aScale: string,
  wScale: string,
  output: string,
  nodeBase: string,
  bias?: string,
): onnx.NodeProto[] {
  const castOut = graph.uniqueName(`${intOutput}_cast_output`);
  const scales = graph.uniqueName(`${nodeBase}_scales_mul:0`);
  const scaled = bias ? graph.uniqueName(`${output}_scaled`) : output;
  const nodes = [
    makeNode('Cast', [intOutput], [castOut], { to: 1 }, { name: graph.uniqueNodeName(`${intOutput}_cast`) }),
    makeNode('Mul', [aScale, wScale], [scales], {}, { name: graph.uniqueNodeName(`${nodeBase}_scales_mul`) }),
    makeNode('Mul', [castOut, scales], [scaled], {}, { name: graph.uniqueNodeName(`${nodeBase}_output_scale_mul`) }),
  ];
  if (bias) nodes.push(makeNode('Add', [scaled, bias], [output], {}, { name: graph.uniqueNodeName(`${nodeBase}_bias_add`) }));
  return nodes;
}

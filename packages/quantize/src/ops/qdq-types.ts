/**
 * Shared shapes of the static (QDQ) op handlers. A handler only looks at one node and says what it
 * needs — which activations get a QuantizeLinear -> DequantizeLinear pair, which constant inputs are
 * stored quantized behind a DequantizeLinear — and static-place.ts places the nodes, once per tensor, as
 * onnxruntime's QDQQuantizer does.
 */
import { toFloat32, type Graph, type onnx } from '@shrink/core';

/** A constant input stored as 8-bit codes + DequantizeLinear (per channel along `axis` when set). */
export interface QdqWeight {
  input: number;
  axis?: number;
  /** Folded into the stored values (Gemm alpha). */
  multiplier?: number;
}

/** A constant bias stored as int32 with scale = activation scale x weight scale, zero point 0. */
export interface QdqBias {
  input: number;
  /** The activation input whose scale multiplies in. */
  activation: string;
  /** Index of the weight input (a QdqWeight of the same plan) whose scale multiplies in. */
  weightInput: number;
  /** Values the bias is written as (1-D): the node's output channels. */
  channels: number;
  /** Folded into the stored values (Gemm beta). */
  multiplier?: number;
}

/** An output that gets a Q/DQ pair: from its own calibrated range, or sharing another tensor's params. */
export interface QdqOutput {
  name: string;
  /** Data-movement ops reuse their input's scale and zero point, so onnxruntime can drop the pair. */
  sameAs?: string;
}

export interface QdqPlan {
  activations: string[];
  weights: QdqWeight[];
  bias?: QdqBias;
  outputs: QdqOutput[];
  /** Attributes removed because their effect was folded into weights (Gemm alpha/beta). */
  dropAttrs?: string[];
  /** Values summed into each output (C_in/group x kernel for Conv, K for MatMul/Gemm), when known. */
  reduction?: number;
}

export type QdqDecision =
  | { kind: 'plan'; plan: QdqPlan }
  /** Remove the node: its producer's quantized output takes its name and range (Relu after Conv). */
  | { kind: 'fold' }
  | { kind: 'skip'; reason: string };

/** How an earlier node already asked for a tensor to be quantized. */
export interface TensorMark {
  sameAs?: string;
  /** Marked as the output of a quantized node (not only as an input of one). */
  asOutput: boolean;
}

/** What a handler may read besides its node. */
export interface QdqView {
  readonly graph: Graph;
  readonly perChannel: boolean;
  readonly opset: number;
  mark(name: string): TensorMark | undefined;
}

export interface QdqOp {
  decide(node: onnx.NodeProto, view: QdqView): QdqDecision;
  /** Inputs that may carry activations: the values calibration must see. */
  readonly dataInputs: readonly number[];
}

export function skip(reason: string): QdqDecision {
  return { kind: 'skip', reason };
}

/** A constant float32 input's value, or why the input does not qualify. */
export function constFloat(graph: Graph, name: string, what: string): { data: Float32Array; dims: number[] } | string {
  const v = graph.constantValue(name);
  if (!v) return `${what} '${name}' is computed at run time`;
  if (v.dtype !== 'float32') return `${what} '${name}' is ${v.dtype}; static quantization handles float32 models`;
  return { data: toFloat32(v), dims: v.dims };
}

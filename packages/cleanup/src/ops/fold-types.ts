/**
 * Shared shapes of the constant-folding handlers. A handler looks at one node whose inputs are
 * constants and returns its outputs' values as data, or why it keeps the node; fold-constants.ts
 * writes the values into the graph. Handlers never edit the graph, and never write into the input
 * tensors they read (those may be views over the model's bytes).
 */
import type { DType, onnx, TensorData, TensorValue } from '@shrink/core';

/** The value of one node output, computed from constants. */
export interface FoldedValue {
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** The typed array of `dtype` (float16/bfloat16 as bits), or plain numbers core's makeTensor converts. */
  readonly data: TensorData | readonly number[];
}

export type FoldDecision =
  /** One value per node output, in output order. */
  { readonly kind: 'fold'; readonly outputs: readonly FoldedValue[] } | { readonly kind: 'keep'; readonly reason: string };

/** What a handler may read besides its node. */
export interface FoldView {
  /** Default-domain opset of the model. */
  readonly opset: number;
  /** The constant value of input `i`; undefined when the input is absent or computed at run time. */
  value(i: number): TensorValue | undefined;
  /**
   * Dims of input `i` when fixed: a constant's, a graph input's declared all-number shape, or those of
   * a value computed from such inputs by an op whose shape rule cleanup trusts (propagate-shapes.ts).
   */
  staticShape(i: number): number[] | undefined;
}

export interface FoldOp {
  /**
   * Which inputs must be constants for the node to be folded: every given input ('all'), or none
   * (Shape reads only its input's shape).
   */
  readonly needs: 'all' | 'none';
  readonly fold: (node: onnx.NodeProto, view: FoldView) => FoldDecision;
}

export function keep(reason: string): FoldDecision {
  return { kind: 'keep', reason };
}

export function folded(...outputs: FoldedValue[]): FoldDecision {
  return { kind: 'fold', outputs };
}

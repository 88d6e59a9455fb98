/**
 * Constant float weights as the node that reads them sees them. float16 models store weights as float16
 * initializers, read either directly (the graph computes in float16) or through a Cast to float (the
 * graph computes in float32): both are weights, decoded here to float32 values for quantization.
 */
import { attrInt, isDefaultDomain, toFloat32, type DType, type Graph } from '@shrink/core';

/** ONNX elem types of the floats a Cast can turn a weight into. */
const CAST_TO: Readonly<Record<number, 'float32' | 'float16'>> = { 1: 'float32', 10: 'float16' };

export interface FloatWeight {
  /** The values, decoded to float32 (a float32 constant's own array: read only). */
  readonly data: Float32Array;
  readonly dims: readonly number[];
  /** The type the reading node sees: what it computes in (MatMul, Gemm, Conv and Gather take one T). */
  readonly readAs: 'float32' | 'float16';
  /** The constant holding the values (the Cast's input when the weight is cast). */
  readonly source: string;
  readonly stored: DType;
}

/**
 * The constant float weight `name` (an initializer, a Constant output, or a Cast to float32/float16 of
 * one), or why it is not one. A graph input can be overridden at run time, so it is not constant.
 */
export function floatWeight(graph: Graph, name: string | undefined, what: string): FloatWeight | string {
  if (!name) return `${what} is missing`;
  let source = name;
  let readAs: 'float32' | 'float16' | undefined;
  const p = graph.producer(name);
  if (p && p.opType === 'Cast' && isDefaultDomain(p) && p.input[0]) {
    readAs = CAST_TO[attrInt(p, 'to', 0)];
    if (!readAs) return `${what} '${name}' is cast to a non-float type`;
    source = p.input[0];
  }
  if (graph.isGraphInput(source)) return `${what} '${source}' is a graph input (it can change at run time)`;
  const v = graph.constantValue(source);
  if (!v) return `${what} '${name}' is computed at run time, not a constant weight`;
  if (v.dtype !== 'float32' && v.dtype !== 'float16')
    return `${what} '${source}' is ${v.dtype}; only float32 and float16 weights are quantized`;
  return { data: toFloat32(v), dims: v.dims, readAs: readAs ?? v.dtype, source, stored: v.dtype };
}

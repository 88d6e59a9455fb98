import type { Graph, TensorValue } from '@shrink/core';
import { newValue, type DynamicRef, type NewValue, type PlannedNode } from './dynamic-types.js';

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

/**
 * The integer op's int32 result back to float, in the pattern onnxruntime fuses into
 * MatMulIntegerToFloat / DynamicQuantizeMatMul: Cast(float) then Mul by Mul(A_scale, B_scale)
 * (scales in that order: the fusion reads them by position), then an optional bias Add whose constant
 * is the second input. The last node writes `output`.
 */
export function dequantizeResult(
  intOutput: NewValue,
  aScale: DynamicRef,
  wScale: DynamicRef,
  output: string,
  nodeBase: string,
  bias?: DynamicRef,
): PlannedNode[] {
  const castOut = newValue(`${intOutput.base}_cast_output`);
  const scales = newValue(`${nodeBase}_scales_mul:0`);
  const scaled = bias ? newValue(`${output}_scaled`) : output;
  const nodes: PlannedNode[] = [
    { opType: 'Cast', name: `${intOutput.base}_cast`, inputs: [intOutput], outputs: [castOut], attrs: { to: 1 } },
    { opType: 'Mul', name: `${nodeBase}_scales_mul`, inputs: [aScale, wScale], outputs: [scales] },
    { opType: 'Mul', name: `${nodeBase}_output_scale_mul`, inputs: [castOut, scales], outputs: [scaled] },
  ];
  if (bias) nodes.push({ opType: 'Add', name: `${nodeBase}_bias_add`, inputs: [scaled, bias], outputs: [output] });
  return nodes;
}

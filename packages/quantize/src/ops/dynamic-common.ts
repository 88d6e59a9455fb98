import type { Graph, onnx, TensorValue } from '@shrink/core';
import { floatWeight } from '../float-weight.js';
import { newValue, type DynamicRef, type NewValue, type PlannedNode } from './dynamic-types.js';

/**
 * A constant float weight (initializer, Constant output, or a Cast to float of one; float16 values
 * decoded) as float32 values, or why the input does not qualify. dynamic.ts runs a node that computes
 * in float16 in float32 between Casts, so the integer ops always see float32.
 */
export function constantWeight(graph: Graph, name: string | undefined, what: string): TensorValue | string {
  const w = floatWeight(graph, name, what);
  if (typeof w === 'string') return w;
  return { name: name!, dtype: 'float32', dims: [...w.dims], data: w.data };
}

/** Why a float activation cannot go through DynamicQuantizeLinear, or undefined (float16 is cast to float32 around the node). */
/**
 * Why a MatMul/Gemm whose output reaches a Log (through Clip/Max/Relu/Add/Abs) stays float, or undefined:
 * a log-mel filterbank. Its run-time input (a power spectrum) spans decades; one uint8 scale per tensor
 * flattens the quiet bins, and the log then magnifies what was lost (openWakeWord's melspectrogram: cosine
 * 0.882 quantized, 0.999999 with the filterbank float, 0.277x the size either way).
 */
export function feedsLog(graph: Graph, node: onnx.NodeProto): string | undefined {
  const reaches = (value: string | undefined, hops: number): boolean =>
    value !== undefined &&
    graph.consumers(value).some((c) => c.opType === 'Log' || (hops > 0 && LOG_PATH.has(c.opType) && reaches(c.output[0], hops - 1)));
  return reaches(node.output[0], 3)
    ? 'its output reaches a Log (a log-mel filterbank): run-time uint8 activations flatten the quiet bins the log magnifies; kept float'
    : undefined;
}

const LOG_PATH = new Set(['Clip', 'Max', 'Relu', 'Add', 'Abs']);

export function activationProblem(graph: Graph, name: string | undefined): string | undefined {
  if (!name) return 'the activation input is missing';
  const dt = graph.dtypeOf(name);
  if (dt !== undefined && dt !== 'float32' && dt !== 'float16')
    return `activation '${name}' is ${dt}; DynamicQuantizeLinear takes float32 only`;
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

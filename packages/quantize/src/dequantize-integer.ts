/**
 * Dynamic int8 ops back to float, for --requantize: DynamicQuantizeLinear(x) -> MatMulInteger/ConvInteger
 * (constant 8-bit weight codes) -> Cast(float) -> Mul(x_scale * w_scale) is what Shrink's q8 and
 * onnxruntime's quantize_dynamic write. It becomes MatMul/Conv(x, (codes - zero point) * w_scale): the
 * weight as the first rounding left it, the activation's run-time rounding gone.
 */
import { attrInt, Graph, isDefaultDomain, makeNode, toFloat32, type onnx, type TensorValue } from '@shrink/core';
import { dequantizeTensor } from './math/params.js';

const FLOAT_OF: Readonly<Record<string, string>> = { MatMulInteger: 'MatMul', ConvInteger: 'Conv' };
const TO_FLOAT = 1;

/** The one reader of `value`, when it has exactly one and `value` is not a graph output. */
function onlyReader(graph: Graph, value: string): onnx.NodeProto | undefined {
  const readers = graph.consumers(value);
  return readers.length === 1 && !graph.isGraphOutput(value) ? readers[0] : undefined;
}

/**
 * Folds the integer node `node` back to float; false (graph untouched) when it is not the pattern above
 * with constant codes, zero point and weight scale.
 */
export function foldIntegerOp(graph: Graph, node: onnx.NodeProto): boolean {
  const floatOp = FLOAT_OF[node.opType];
  if (!floatOp || !isDefaultDomain(node)) return false;
  const [aq, wq, azp, wzp] = node.input;
  const dq = aq ? graph.producer(aq) : undefined;
  if (!dq || dq.opType !== 'DynamicQuantizeLinear' || dq.output[0] !== aq || (azp && azp !== dq.output[2])) return false;
  const codes = wq ? graph.constantValue(wq) : undefined;
  if (!codes || (codes.dtype !== 'int8' && codes.dtype !== 'uint8')) return false;
  const zero = wzp ? graph.constantValue(wzp) : undefined;
  if (wzp && !zero) return false;
  const cast = onlyReader(graph, node.output[0]!);
  if (!cast || cast.opType !== 'Cast' || attrInt(cast, 'to', 0) !== TO_FLOAT) return false;
  const mul = onlyReader(graph, cast.output[0]!);
  if (!mul || mul.opType !== 'Mul' || mul.input.length !== 2) return false;
  const scales = graph.producer(mul.input[0] === cast.output[0] ? mul.input[1]! : mul.input[0]!);
  if (!scales || scales.opType !== 'Mul' || !scales.input.includes(dq.output[1]!)) return false;
  const wScale = graph.constantValue(scales.input[0] === dq.output[1] ? scales.input[1]! : scales.input[0]!);
  if (!wScale || wScale.dtype !== 'float32') return false;
  const weight = dequantized(codes, zero, toFloat32(wScale), floatOp === 'Conv');
  if (!weight) return false;
  const wName = graph.uniqueName(`${wq}_dequantized`);
  graph.setInitializer(wName, 'float32', codes.dims, weight);
  const float = makeNode(
    floatOp,
    [dq.input[0]!, wName],
    [mul.output[0]!],
    {},
    { name: graph.uniqueNodeName(`${node.name || floatOp}_float`) },
  );
  // ConvInteger carries Conv's attributes (kernel_shape, pads, strides, dilations, group).
  float.attribute = [...node.attribute];
  graph.removeNode(cast);
  graph.removeNode(mul);
  graph.replaceNode(node, float);
  return true;
}

/**
 * (codes - zero point) * scale, as DequantizeLinear computes it (dequantizeTensor). MatMulInteger's [K, N]
 * codes take a scalar or one scale/zero point per column; ConvInteger's [M, C/g, k...] take a scalar or one
 * per output channel (stored [M, 1, 1] to broadcast over the output). Undefined for any other layout.
 */
function dequantized(codes: TensorValue, zero: TensorValue | undefined, scale: Float32Array, conv: boolean): Float32Array | undefined {
  const q = codes.data as Int8Array | Uint8Array;
  const z = zero ? Array.from(zero.data as ArrayLike<number>, Number) : [0];
  const dims = codes.dims;
  const channels = conv ? dims[0]! : dims.at(-1)!;
  const fits = (n: number) => n === 1 || n === channels;
  if (dims.length < 2 || !fits(scale.length) || !fits(z.length)) return undefined;
  if (scale.length === 1 && z.length === 1) return dequantizeTensor(q, dims, scale, z);
  // One of them per channel: the other, a scalar, holds for every channel (ConvInteger's zero point is).
  const perChannel = (a: ArrayLike<number>) => Float32Array.from({ length: channels }, (_, c) => a[a.length === 1 ? 0 : c]!);
  return dequantizeTensor(q, dims, perChannel(scale), perChannel(z), conv ? 0 : dims.length - 1);
}

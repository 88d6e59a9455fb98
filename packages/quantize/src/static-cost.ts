/**
 * When quantizing a node the QDQ handlers planned would make the model slower: onnxruntime's int8
 * kernels and graph rewrites have costs a plan does not show. --include of a node's name overrides these
 * rules.
 */
import { isDefaultDomain, nodeLabel, type Graph, type onnx } from '@shrink/core';
import type { QdqPlan, TensorMark } from './ops/qdq-types.js';

/**
 * Below this many values summed per output (C_in/group x kh x kw for Conv, K for MatMul/Gemm) an int8
 * kernel loses to float: onnxruntime's u8s8 GEMM packs K in blocks of 4-16 with per-output requantize
 * work, and the QuantizeLinear of the (wide) input costs about what the float kernel does. Measured on
 * fashion-cnn (2 threads): its 1-channel 3x3 Conv (K = 9) ran as QLinearConv in ~512 µs against ~47 µs
 * float at batch 32, while its K = 144 Conv and K = 64/800 Gemms fuse and run at or below float speed.
 */
export const MIN_QDQ_REDUCTION = 16;

/**
 * Ops onnxruntime's QDQPropagationTransformer moves a QuantizeLinear above (its CanNodePropagate list):
 * a Q at the input of a quantized op climbs through them up to the first other producer.
 */
const ORT_Q_PROPAGATES: ReadonlySet<string> = new Set(['MaxPool', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Slice']);

/** Why quantizing this planned node would cost more than it saves, or undefined when it should run int8. */
export function notWorthIt(graph: Graph, node: onnx.NodeProto, plan: QdqPlan, marks: ReadonlyMap<string, TensorMark>): string | undefined {
  // What --include accepts: the node's name, or for an unnamed node its op type.
  const name = node.name || node.opType;
  if (plan.reduction !== undefined && plan.reduction < MIN_QDQ_REDUCTION) {
    return `reduction of ${plan.reduction} values is too small for int8 kernels to pay off (< ${MIN_QDQ_REDUCTION}; include '${name}' to force it)`;
  }
  for (const a of plan.activations) {
    if (marks.has(a)) continue;
    const pool = maxPoolAbove(graph, a, marks);
    if (pool) {
      return (
        `input '${a}' comes from float ops through MaxPool '${pool}': onnxruntime would move the QuantizeLinear above the MaxPool ` +
        `(QDQ propagation) and run it on uint8 NCHW, slower than the float ops it saves; include '${name}' to force it`
      );
    }
  }
  return undefined;
}

/**
 * The MaxPool a QuantizeLinear on `name` would be moved above by onnxruntime, if any: the chain of
 * single-reader ops it propagates through, walked up from `name` until a quantized tensor (a
 * DequantizeLinear stops the propagation) or another producer.
 */
function maxPoolAbove(graph: Graph, name: string, marks: ReadonlyMap<string, TensorMark>): string | undefined {
  let t = name;
  for (let p = graph.producer(t); p && isDefaultDomain(p) && ORT_Q_PROPAGATES.has(p.opType); p = graph.producer(t)) {
    if (graph.consumers(t).length !== 1 || graph.isGraphOutput(t)) return undefined;
    if (p.opType === 'MaxPool') return nodeLabel(p);
    const x = p.input[0];
    if (!x || marks.has(x)) return undefined;
    t = x;
  }
  return undefined;
}

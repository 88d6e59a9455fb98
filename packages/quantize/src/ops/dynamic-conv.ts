import { makeNode, type onnx } from '@shrink/core';
import type { ResolvedQuantizeOptions } from '../options.js';
import type { OpQuantizer } from '../types.js';
import {
  activationProblem,
  constantWeight,
  dequantizeResult,
  nodeLabel,
  quantizeActivation,
  skipped,
  storeWeight,
  type DynamicState,
} from './dynamic-common.js';

/** Why Conv weights are uint8 whatever the dtype; said once per run in the report notes. */
export const CONV_UINT8_NOTE =
  'Conv weights are stored as uint8 (asymmetric) whatever the dtype: onnxruntime long ran ConvInteger with uint8 weights only (microsoft/onnxruntime#6430, #23985); onnxruntime-node 1.30 also takes int8, uint8 keeps the model loadable in older and web builds';
export const CONV_PER_TENSOR_NOTE =
  "Conv weights are quantized per tensor even with perChannel: onnxruntime's CPU ConvInteger refuses per-channel weight zero points";

/**
 * Conv with a constant weight -> DynamicQuantizeLinear(X) -> ConvInteger (same attributes) -> Cast ->
 * Mul(X_scale * W_scale) -> Add(bias reshaped to [1, M, 1, ...]), written to the Conv's output.
 */
export const quantizeConvDynamic: OpQuantizer<DynamicState> = (graph, node, _options: ResolvedQuantizeOptions, state) => {
  const [x, wName, b] = node.input ?? [];
  const w = constantWeight(graph, wName, 'W');
  if (typeof w === 'string') return skipped(node, `${w}; only a constant weight is quantized`);
  if (w.dims.length < 3) return skipped(node, `W '${wName}' has rank ${w.dims.length}; Conv weights are [M, C/group, k...]`);
  const problem = activationProblem(graph, x);
  if (problem) return skipped(node, problem);
  const output = node.output![0]!;
  const base = node.name || output;
  const stored = storeWeight(graph, state, `${wName}|conv`, wName!, w.data as Float32Array, w.dims, {
    type: 'uint8',
    symmetric: false,
    source: wName!,
  });
  state.notes.add(CONV_UINT8_NOTE);
  if (state.perChannel) state.notes.add(CONV_PER_TENSOR_NOTE);
  let bias: string | undefined;
  const prefix: onnx.INodeProto[] = [];
  if (b) {
    // Conv's bias is [M]; after the Mul it must broadcast over [N, M, spatial...].
    const shape = [1, w.dims[0]!, ...w.dims.slice(2).map(() => 1)];
    const bv = graph.constantValue(b);
    bias = graph.uniqueName(`${b}_reshaped`);
    if (bv && bv.dims.length === 1 && bv.dims[0] === w.dims[0]) {
      graph.setInitializer(bias, bv.dtype, shape, bv.data);
    } else {
      const shapeName = graph.uniqueName(`${bias}_shape`);
      graph.setInitializer(shapeName, 'int64', [shape.length], shape);
      prefix.push(makeNode('Reshape', [b, shapeName], [bias], {}, { name: graph.uniqueNodeName(`${base}_bias_reshape`) }));
    }
  }
  const act = quantizeActivation(graph, state, x!, node);
  const intOut = graph.uniqueName(`${output}_output_quantized`);
  const conv = makeNode('ConvInteger', [act.q, stored.weight.q, act.zeroPoint, stored.weight.zeroPoint], [intOut], {}, {
    name: graph.uniqueNodeName(`${base}_quant`),
  });
  // Conv and ConvInteger share their attributes; the node is being replaced, so they can move over.
  conv.attribute = [...(node as onnx.NodeProto).attribute];
  const tail = dequantizeResult(graph, intOut, act.scale, stored.weight.scale, output, `${base}_quant`, bias);
  const added = graph.replaceNode(node, [...prefix, conv, ...tail]);
  return {
    name: nodeLabel(node),
    opType: node.opType ?? 'Conv',
    action: 'quantized',
    reason: 'uint8 asymmetric weights per tensor (ConvInteger); uint8 activations quantized at run time',
    replacedBy: added.map((n) => n.name),
    weights: stored.written,
  };
};

import { nodeLabel } from '@shrink/core';
import { activationProblem, constantWeight, dequantizeResult } from './dynamic-common.js';
import {
  activationPart,
  newValue,
  skip,
  weightPart,
  type DynamicOp,
  type DynamicRef,
  type PlannedConstant,
  type PlannedNode,
} from './dynamic-types.js';

/** Why Conv weights are uint8 whatever the dtype; said once per run in the report notes. */
export const CONV_UINT8_NOTE =
  'Conv weights are stored as uint8 (asymmetric) whatever the dtype: onnxruntime long ran ConvInteger with uint8 weights only (microsoft/onnxruntime#6430, #23985); onnxruntime-node 1.30 also takes int8, uint8 keeps the model loadable in older and web builds';
export const CONV_PER_TENSOR_NOTE =
  "Conv weights are quantized per tensor even with perChannel: onnxruntime's CPU ConvInteger refuses per-channel weight zero points";

/**
 * Conv with a constant weight -> DynamicQuantizeLinear(X) -> ConvInteger (same attributes) -> Cast ->
 * Mul(X_scale * W_scale) -> Add(bias reshaped to [1, M, 1, ...]), written to the Conv's output.
 */
export const planConvDynamic: DynamicOp = (node, view) => {
  const [x, wName, b] = node.input;
  const w = constantWeight(view.graph, wName, 'W');
  if (typeof w === 'string') return skip(`${w}; only a constant weight is quantized`);
  if (w.dims.length < 3) return skip(`W '${wName}' has rank ${w.dims.length}; Conv weights are [M, C/group, k...]`);
  const problem = activationProblem(view.graph, x);
  if (problem) return skip(problem);
  const output = node.output[0]!;
  const base = nodeLabel(node);
  const key = `${wName}|conv`;
  const constants: PlannedConstant[] = [];
  const prefix: PlannedNode[] = [];
  let bias: DynamicRef | undefined;
  if (b) {
    // Conv's bias is [M]; after the Mul it must broadcast over [N, M, spatial...].
    const shape = [1, w.dims[0]!, ...w.dims.slice(2).map(() => 1)];
    const bv = view.graph.constantValue(b);
    const reshaped = newValue(`${b}_reshaped`);
    if (bv && bv.dims.length === 1 && bv.dims[0] === w.dims[0]) {
      constants.push({ kind: 'constant', value: reshaped, dtype: bv.dtype, dims: shape, data: bv.data });
    } else {
      const shapeValue = newValue(`${b}_reshaped_shape`);
      constants.push({ kind: 'constant', value: shapeValue, dtype: 'int64', dims: [shape.length], data: shape });
      prefix.push({ opType: 'Reshape', name: `${base}_bias_reshape`, inputs: [b, shapeValue], outputs: [reshaped] });
    }
    bias = reshaped;
  }
  const intOut = newValue(`${output}_output_quantized`);
  const conv: PlannedNode = {
    opType: 'ConvInteger',
    name: `${base}_quant`,
    inputs: [activationPart(x!, 'codes'), weightPart(key, 'codes'), activationPart(x!, 'zeroPoint'), weightPart(key, 'zeroPoint')],
    outputs: [intOut],
    // Conv and ConvInteger share their attributes; the node is being replaced, so they can move over.
    keepAttributes: true,
  };
  return {
    kind: 'plan',
    plan: {
      initializers: [
        { kind: 'weight', key, base: wName!, data: w.data as Float32Array, dims: w.dims, type: 'uint8', symmetric: false, source: wName! },
        ...constants,
      ],
      nodes: [
        ...prefix,
        conv,
        ...dequantizeResult(intOut, activationPart(x!, 'scale'), weightPart(key, 'scale'), output, `${base}_quant`, bias),
      ],
      reason: 'uint8 asymmetric weights per tensor (ConvInteger); uint8 activations quantized at run time',
      notes: view.perChannel ? [CONV_UINT8_NOTE, CONV_PER_TENSOR_NOTE] : [CONV_UINT8_NOTE],
    },
  };
};

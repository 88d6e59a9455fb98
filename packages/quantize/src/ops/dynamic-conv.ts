import { nodeLabel, type onnx, type TensorValue } from '@shrink/core';
import { planConvWeightOnly } from './dynamic-conv-weight-only.js';
import { activationProblem, constantWeight, dequantizeResult } from './dynamic-common.js';
import {
  activationPart,
  newValue,
  plannedWeight,
  skip,
  weightPart,
  type DynamicDecision,
  type DynamicOp,
  type DynamicRef,
  type DynamicView,
  type PlannedConstant,
  type PlannedNode,
} from './dynamic-types.js';

/** Why Conv weights are uint8 whatever the dtype; said once per run in the report notes. */
export const CONV_UINT8_NOTE =
  'Conv weights are stored as uint8 whatever the dtype: onnxruntime long ran ConvInteger with uint8 weights only (microsoft/onnxruntime#6430, #23985); onnxruntime-node 1.30 also takes int8, uint8 keeps the model loadable in older and web builds';
export const CONV_PER_CHANNEL_NOTE =
  "Conv weights have a scale per output channel and one zero point (symmetric uint8 codes around 128): onnxruntime's ConvInteger takes only a scalar weight zero point, and one scale per tensor lost up to 20 dB on depthwise and wide layers (a PaddleOCR detector: cosine 0.97 -> 0.99 on rendered text)";

/**
 * With convFormat integer, Convs that sum at most this many values per output (C_in/group x kernel) stay float. ConvInteger pays a
 * DynamicQuantizeLinear pass over its input and a Cast and Mul over its output, which so few MACs per
 * output do not repay, and with so few terms the rounding errors do not average out. Measured on the
 * PP-OCRv4 detector at 640x640: its 12 such Convs (3x3 depthwise, a 1x1 over 16 channels, SE squeezes)
 * kept float made the model faster than with them in int8 and lifted the output cosine on rendered
 * text from 0.984 to 0.997, for 0.4 % more bytes. Static QDQ draws the same line (MIN_QDQ_REDUCTION).
 */
export const MAX_FLOAT_CONV_REDUCTION = 16;

/**
 * Why convFormat auto stores every Conv weight-only; the node rows say it. Measured with `shrink compare`
 * on AVX512-VNNI (2 cores shared, so +-10 %), ConvInteger against fp32 at batch 1: ResNet-18 0.97-1.10x,
 * the PP-OCRv4 detector 1.11x, fashion-cnn 1.38x (1.55x at batch 32), ISNet 1.01-1.50x; 1.28x and 1.80x
 * on AVX2 (issue #14). Weight-only ran 0.93-1.03x on all four. ConvInteger's per-tensor run-time
 * activation codes also compound through deep chains (ISNet, 119 Convs: worst output cosine 0.976,
 * weight-only 0.9986 at the same size). No Conv was found where ConvInteger pays; convFormat integer
 * keeps it for runtimes that want it.
 */
export const AUTO_REASON = 'convFormat auto: ConvInteger was slower or less accurate on every conv net measured';

/**
 * Conv with a constant weight, as convFormat says: weight-only (dynamic-conv-weight-only.ts; auto) or
 * ConvInteger on run-time uint8 activations (integer).
 */
export const planConvDynamic: DynamicOp = (node, view) => {
  const [, wName] = node.input;
  const w = constantWeight(view.graph, wName, 'W');
  if (typeof w === 'string') return skip(`${w}; only a constant weight is quantized`);
  if (w.dims.length < 3) return skip(`W '${wName}' has rank ${w.dims.length}; Conv weights are [M, C/group, k...]`);
  const format = view.convFormat ?? 'auto';
  if (format === 'integer') return planConvInteger(node, view, w);
  return planConvWeightOnly(view.graph, node, w, format === 'auto' ? AUTO_REASON : 'convFormat weight-only');
};

/**
 * Conv with a constant weight -> DynamicQuantizeLinear(X) -> ConvInteger (same attributes) -> Cast ->
 * Mul(X_scale * W_scale) -> Add(bias reshaped to [1, M, 1, ...]), written to the Conv's output.
 * W is quantized per output channel, symmetric, so all channels share the zero point 128 that
 * ConvInteger takes as a scalar, and W_scale is [M, 1, ...] to scale each channel of the int32 result.
 * onnxruntime's quantize_dynamic stores Conv weights per tensor; per channel is what its static
 * QLinearConv path and TFLite do for convolutions, and here it costs no kernel change.
 */
function planConvInteger(node: onnx.NodeProto, view: DynamicView, w: TensorValue): DynamicDecision {
  const [x, wName, b] = node.input;
  const reduction = w.dims.slice(1).reduce((a, d) => a * d, 1);
  if (reduction <= MAX_FLOAT_CONV_REDUCTION) {
    return skip(
      `sums ${reduction} values per output (C/group x kernel): at most ${MAX_FLOAT_CONV_REDUCTION}, ConvInteger is slower than the float Conv and loses more precision`,
    );
  }
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
        plannedWeight(key, wName!, w, {
          type: 'uint8',
          symmetric: true,
          axis: 0,
          scaleDims: [w.dims[0]!, ...w.dims.slice(2).map(() => 1)],
          sharedZeroPoint: true,
        }),
        ...constants,
      ],
      nodes: [
        ...prefix,
        conv,
        ...dequantizeResult(intOut, activationPart(x!, 'scale'), weightPart(key, 'scale'), output, `${base}_quant`, bias),
      ],
      reason: 'uint8 symmetric weights per output channel (ConvInteger); uint8 activations quantized at run time',
      notes: [CONV_UINT8_NOTE, CONV_PER_CHANNEL_NOTE],
    },
  };
}

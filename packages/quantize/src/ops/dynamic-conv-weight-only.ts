import type { Graph, onnx, TensorValue } from '@shrink/core';
import type { DynamicDecision } from './dynamic-types.js';
import { planWeightOnly } from './dynamic-weight-only.js';

/** Said once per run when any Conv is stored this way. */
export const CONV_WEIGHT_ONLY_NOTE =
  'Conv weights are int8 codes with a scale per output channel, turned back to float by a Cast and a Mul that onnxruntime folds into a float32 weight when it loads the model: the file is about 4x smaller than float32, the run is the float Conv (same speed, float32 weights in memory). ConvInteger (convFormat integer) quantizes every activation at run time and lost accuracy through deep conv chains (an 88 MB ISNet: worst-output cosine 0.976) while running slower than float on the models measured (BENCHMARKS.md)';

/**
 * Conv with a constant weight -> Cast(int8 codes to float) -> Mul(scale [M, 1, ...]) -> the same Conv.
 * W is quantized per output channel, symmetric int8 [-127, 127] with no zero point: nothing multiplies
 * the codes in integers, so no CPU can saturate them and they keep the full range. Cast and Mul of
 * constants are folded by onnxruntime's constant folding at session load (checked in
 * dynamic-conv.test.ts), so the Conv gets a constant float weight its kernels prepack (NCHWc) and fuse
 * with Relu/Add. DequantizeLinear would say the same thing, but onnxruntime keeps it unfolded (for its
 * QDQ fusions): it then ran on every inference and the Conv could not prepack its weight, ResNet-18 at
 * batch 1 1.29x fp32 against 1.0x for Cast and Mul.
 */
export function planConvWeightOnly(graph: Graph, node: onnx.NodeProto, w: TensorValue, why: string): DynamicDecision {
  return planWeightOnly(graph, node, 1, w, 0, `weight-only Conv; ${why}`, [CONV_WEIGHT_ONLY_NOTE]);
}

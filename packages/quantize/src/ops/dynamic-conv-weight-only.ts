import { nodeLabel, type Graph, type onnx, type TensorValue } from '@shrink/core';
import { computesInFloat16 } from '../float16-compute.js';
import { newValue, plannedWeight, weightPart, type DynamicDecision, type PlannedNode } from './dynamic-types.js';

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
  const [x, wName, b] = node.input;
  const base = nodeLabel(node);
  const key = `${wName}|conv-weight-only`;
  const codes = newValue(`${wName}_codes_float`);
  const weight = newValue(`${wName}_dequantized`);
  // A Conv computing in float16 gets a float16 weight (a third Cast, folded like the others): its
  // activations stay float16, as the source model has them, for the runtimes that compute in float16.
  const half = computesInFloat16(graph, node);
  const scaled = half ? newValue(`${wName}_dequantized_float32`) : weight;
  const nodes: PlannedNode[] = [
    { opType: 'Cast', name: `${base}_weight_cast`, inputs: [weightPart(key, 'codes')], outputs: [codes], attrs: { to: 1 } },
    { opType: 'Mul', name: `${base}_weight_scale`, inputs: [codes, weightPart(key, 'scale')], outputs: [scaled] },
    ...(half ? [{ opType: 'Cast', name: `${base}_weight_to_float16`, inputs: [scaled], outputs: [weight], attrs: { to: 10 } }] : []),
    {
      opType: 'Conv',
      name: base,
      inputs: [x!, weight, ...(b ? [b] : [])],
      outputs: [node.output[0]!],
      keepAttributes: true,
      keepName: true,
    },
  ];
  return {
    kind: 'plan',
    plan: {
      initializers: [
        plannedWeight(key, wName!, w, {
          type: 'int8',
          symmetric: true,
          axis: 0,
          scaleDims: [w.dims[0]!, ...w.dims.slice(1).map(() => 1)],
          noZeroPoint: true,
        }),
      ],
      nodes,
      reason: `int8 symmetric weights per output channel, computed in ${half ? 'float16 as before' : 'float'} (weight-only Conv; ${why})`,
      notes: [CONV_WEIGHT_ONLY_NOTE],
      ownPrecision: true,
    },
  };
}

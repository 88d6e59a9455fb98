import { attrInt, nodeLabel, type Graph, type onnx, type TensorValue } from '@shrink/core';
import { computesInFloat16 } from '../float16-compute.js';
import { constantWeight } from './dynamic-common.js';
import { newValue, plannedWeight, skip, weightPart, type DynamicDecision, type PlannedNode } from './dynamic-types.js';

/** Said once per run when a MatMul or Gemm is stored this way (the speed guard's choice, or floatCompute's). */
export const MATMUL_WEIGHT_ONLY_NOTE =
  'MatMul/Gemm weights listed in floatCompute are int8 codes with a scale per output column, turned back to float by a Cast and a Mul that onnxruntime folds into a float32 weight when it loads the model: about 4x smaller than float32 on disk, run by the float kernel (same speed, float32 weights in memory)';

/**
 * A node with a constant weight -> Cast(int8 codes to float) -> Mul(scale along `axis`) -> the same node
 * reading the product. Symmetric int8 [-127, 127] with no zero point: nothing multiplies the codes in
 * integers, so no CPU can saturate them. onnxruntime folds the Cast and Mul of constants when the session
 * loads, so the node gets a constant float weight it can prepack and fuse as before.
 */
export function planWeightOnly(
  graph: Graph,
  node: onnx.NodeProto,
  input: number,
  w: TensorValue,
  axis: number,
  reason: string,
  notes: readonly string[],
): DynamicDecision {
  const wName = node.input[input]!;
  const base = nodeLabel(node);
  const key = `${wName}|weight-only-${axis}`;
  const codes = newValue(`${wName}_codes_float`);
  const weight = newValue(`${wName}_dequantized`);
  // A node computing in float16 gets a float16 weight (a third Cast, folded like the others): its
  // activations stay float16, as the source model has them, for the runtimes that compute in float16.
  const half = computesInFloat16(graph, node);
  const scaled = half ? newValue(`${wName}_dequantized_float32`) : weight;
  const nodes: PlannedNode[] = [
    { opType: 'Cast', name: `${base}_weight_cast`, inputs: [weightPart(key, 'codes')], outputs: [codes], attrs: { to: 1 } },
    { opType: 'Mul', name: `${base}_weight_scale`, inputs: [codes, weightPart(key, 'scale')], outputs: [scaled] },
    ...(half ? [{ opType: 'Cast', name: `${base}_weight_to_float16`, inputs: [scaled], outputs: [weight], attrs: { to: 10 } }] : []),
    {
      opType: node.opType,
      name: base,
      inputs: node.input.map((x, i) => (i === input ? weight : x)),
      outputs: [...node.output],
      keepAttributes: true,
      keepName: true,
    },
  ];
  return {
    kind: 'plan',
    plan: {
      initializers: [
        plannedWeight(key, wName, w, {
          type: 'int8',
          symmetric: true,
          axis,
          scaleDims: w.dims.map((d, i) => (i === axis ? d : 1)),
          noZeroPoint: true,
        }),
      ],
      nodes,
      reason: `int8 symmetric weights per output ${axis === 0 && node.opType === 'Conv' ? 'channel' : 'column'}, computed in ${half ? 'float16 as before' : 'float'} (${reason})`,
      notes,
      ownPrecision: true,
    },
  };
}

/** MatMul or Gemm with a rank-2 constant weight, stored int8 and computed in float (floatCompute). */
export function planMatMulWeightOnly(node: onnx.NodeProto, graph: Graph, why: string): DynamicDecision {
  const w = constantWeight(graph, node.input[1], 'B');
  if (typeof w === 'string') return skip(`${w}; only a constant weight is quantized`);
  if (w.dims.length !== 2) return skip(`B '${node.input[1]}' has rank ${w.dims.length}; weight-only MatMul/Gemm weights are rank 2`);
  // The output column is axis 1 of B [K, N], axis 0 of a Gemm's transposed B [N, K].
  const axis = node.opType === 'Gemm' && attrInt(node, 'transB', 0) !== 0 ? 0 : 1;
  return planWeightOnly(graph, node, 1, w, axis, why, [MATMUL_WEIGHT_ONLY_NOTE]);
}

import { attrFloat, attrInt, nodeLabel, type onnx } from '@shrink/core';
import { transpose } from '../math/transpose.js';
import { describeWeightFormat } from '../weight-format.js';
import { activationProblem, constantWeight, dequantizeResult, feedsLog } from './dynamic-common.js';
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

/**
 * A[.., K] x W[K, N] as DynamicQuantizeLinear(A) -> MatMulInteger -> Cast -> Mul(A_scale * W_scale)
 * [-> Add bias], written to `output`. Per channel means one scale per output column (axis 1 of W).
 */
function plan(
  node: onnx.NodeProto,
  view: DynamicView,
  a: string,
  w: { key: string; base: string; data: Float32Array; dims: [number, number] },
  extra: { constants: PlannedConstant[]; prefix: PlannedNode[]; bias: DynamicRef | undefined },
): DynamicDecision {
  const { format, perChannel } = view;
  const output = node.output[0]!;
  const base = nodeLabel(node);
  const intOut = newValue(`${output}_output_quantized`);
  const mmi: PlannedNode = {
    opType: 'MatMulInteger',
    name: `${base}_quant`,
    inputs: [activationPart(a, 'codes'), weightPart(w.key, 'codes'), activationPart(a, 'zeroPoint'), weightPart(w.key, 'zeroPoint')],
    outputs: [intOut],
  };
  return {
    kind: 'plan',
    plan: {
      initializers: [
        ...extra.constants,
        plannedWeight(w.key, w.base, w, {
          type: format.type,
          symmetric: format.symmetric,
          reduceRange: format.reduceRange,
          ...(perChannel ? { axis: 1 } : {}),
        }),
      ],
      nodes: [
        ...extra.prefix,
        mmi,
        ...dequantizeResult(intOut, activationPart(a, 'scale'), weightPart(w.key, 'scale'), output, `${base}_quant`, extra.bias),
      ],
      reason: `${describeWeightFormat(format)} weights ${perChannel ? 'per column' : 'per tensor'}; uint8 activations quantized at run time`,
    },
  };
}

export const planMatMulDynamic: DynamicOp = (node, view) => {
  const [a, b] = node.input;
  const w = constantWeight(view.graph, b, 'B');
  if (typeof w === 'string') return skip(`${w}; only a constant weight is quantized`);
  if (w.dims.length !== 2) return skip(`B '${b}' has rank ${w.dims.length}; MatMulInteger weights are rank 2 [K, N]`);
  const problem = activationProblem(view.graph, a) ?? feedsLog(view.graph, node);
  if (problem) return skip(problem);
  const weight = { key: `${b}|n|1`, base: b!, data: w.data as Float32Array, dims: [w.dims[0]!, w.dims[1]!] as [number, number] };
  return plan(node, view, a!, weight, { constants: [], prefix: [], bias: undefined });
};

/**
 * Gemm: Y = alpha * A x B' + beta * C. transB is folded into the stored weight (transposed once,
 * here), alpha into the weight values, and beta * C becomes the bias Add after the scale Mul.
 */
export const planGemmDynamic: DynamicOp = (node, view) => {
  const [a, b, c] = node.input;
  if (attrInt(node, 'transA', 0) !== 0) return skip('transA=1 is not handled (MatMulInteger takes A as is)');
  const w = constantWeight(view.graph, b, 'B');
  if (typeof w === 'string') return skip(`${w}; only a constant weight is quantized`);
  if (w.dims.length !== 2) return skip(`B '${b}' has rank ${w.dims.length}; Gemm weights are rank 2`);
  const problem = activationProblem(view.graph, a) ?? feedsLog(view.graph, node);
  if (problem) return skip(problem);
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  const transB = attrInt(node, 'transB', 0) !== 0;
  let data = w.data as Float32Array;
  let [k, n] = [w.dims[0]!, w.dims[1]!];
  if (transB) {
    data = transpose(data, k, n);
    [k, n] = [n, k];
  }
  if (alpha !== 1) data = data.map((v) => v * alpha);
  const output = node.output[0]!;
  const constants: PlannedConstant[] = [];
  const prefix: PlannedNode[] = [];
  let bias: DynamicRef | undefined;
  if (c && beta !== 0) {
    const cv = beta === 1 ? undefined : view.graph.constantValue(c);
    if (beta === 1) bias = c;
    else if (cv && cv.dtype === 'float32') {
      const scaled = newValue(`${c}_scaled`);
      constants.push({
        kind: 'constant',
        value: scaled,
        dtype: 'float32',
        dims: cv.dims,
        data: (cv.data as Float32Array).map((v) => v * beta),
      });
      bias = scaled;
    } else {
      // A computed C: scale it at run time.
      const betaValue = newValue(`${output}_beta`);
      constants.push({ kind: 'constant', value: betaValue, dtype: 'float32', dims: [], data: [beta] });
      const scaled = newValue(`${c}_scaled`);
      prefix.push({ opType: 'Mul', name: `${nodeLabel(node)}_beta_mul`, inputs: [c, betaValue], outputs: [scaled] });
      bias = scaled;
    }
  }
  const weight = { key: `${b}|${transB ? 't' : 'n'}|${alpha}`, base: b!, data, dims: [k, n] as [number, number] };
  return plan(node, view, a!, weight, { constants, prefix, bias });
};

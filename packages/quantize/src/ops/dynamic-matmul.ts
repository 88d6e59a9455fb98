import { attrFloat, attrInt, makeNode, type Graph, type onnx } from '@shrink/core';
import { transpose } from '../math/transpose.js';
import type { ResolvedQuantizeOptions } from '../options.js';
import type { NodeOutcome, OpQuantizer } from '../types.js';
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
import { describeWeightFormat } from '../weight-format.js';

/**
 * A[.., K] x W[K, N] as DynamicQuantizeLinear(A) -> MatMulInteger -> Cast -> Mul(A_scale * W_scale)
 * [-> Add bias], written to `output`. Per channel means one scale per output column (axis 1 of W).
 */
function emit(
  graph: Graph,
  state: DynamicState,
  node: onnx.NodeProto,
  a: string,
  w: { key: string; base: string; source: string; data: Float32Array; dims: [number, number] },
  output: string,
  prefix: onnx.INodeProto[],
  bias: string | undefined,
): NodeOutcome {
  const stored = storeWeight(graph, state, w.key, w.base, w.data, w.dims, {
    type: state.format.type,
    symmetric: state.format.symmetric,
    reduceRange: state.format.reduceRange,
    ...(state.perChannel ? { axis: 1 } : {}),
    source: w.source,
  });
  const act = quantizeActivation(graph, state, a, node);
  const base = node.name || output;
  const intOut = graph.uniqueName(`${output}_output_quantized`);
  const mmi = makeNode('MatMulInteger', [act.q, stored.weight.q, act.zeroPoint, stored.weight.zeroPoint], [intOut], {}, {
    name: graph.uniqueNodeName(`${base}_quant`),
  });
  const tail = dequantizeResult(graph, intOut, act.scale, stored.weight.scale, output, `${base}_quant`, bias);
  const added = graph.replaceNode(node, [...prefix, mmi, ...tail]);
  return {
    name: nodeLabel(node),
    opType: node.opType,
    action: 'quantized',
    reason: `${describeWeightFormat(state.format)} weights ${state.perChannel ? 'per column' : 'per tensor'}; uint8 activations quantized at run time`,
    replacedBy: added.map((n) => n.name),
    weights: stored.written,
  };
}

export const quantizeMatMulDynamic: OpQuantizer<DynamicState> = (graph, node, _options: ResolvedQuantizeOptions, state) => {
  const [a, b] = node.input ?? [];
  const w = constantWeight(graph, b, 'B');
  if (typeof w === 'string') return skipped(node, `${w}; only a constant weight is quantized`);
  if (w.dims.length !== 2) return skipped(node, `B '${b}' has rank ${w.dims.length}; MatMulInteger weights are rank 2 [K, N]`);
  const problem = activationProblem(graph, a);
  if (problem) return skipped(node, problem);
  return emit(
    graph,
    state,
    node as onnx.NodeProto,
    a!,
    { key: `${b}|n|1`, base: b!, source: b!, data: w.data as Float32Array, dims: [w.dims[0]!, w.dims[1]!] },
    node.output![0]!,
    [],
    undefined,
  );
};

/**
 * Gemm: Y = alpha * A x B' + beta * C. transB is folded into the stored weight (transposed once,
 * here), alpha into the weight values, and beta * C becomes the bias Add after the scale Mul.
 */
export const quantizeGemmDynamic: OpQuantizer<DynamicState> = (graph, node, _options: ResolvedQuantizeOptions, state) => {
  const [a, b, c] = node.input ?? [];
  if (attrInt(node, 'transA', 0) !== 0) return skipped(node, 'transA=1 is not handled (MatMulInteger takes A as is)');
  const w = constantWeight(graph, b, 'B');
  if (typeof w === 'string') return skipped(node, `${w}; only a constant weight is quantized`);
  if (w.dims.length !== 2) return skipped(node, `B '${b}' has rank ${w.dims.length}; Gemm weights are rank 2`);
  const problem = activationProblem(graph, a);
  if (problem) return skipped(node, problem);
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
  const output = node.output![0]!;
  const prefix: onnx.INodeProto[] = [];
  let bias: string | undefined;
  if (c && beta !== 0) {
    const cv = beta === 1 ? undefined : graph.constantValue(c);
    if (beta === 1) bias = c;
    else if (cv && cv.dtype === 'float32') {
      bias = graph.uniqueName(`${c}_scaled`);
      graph.setInitializer(bias, 'float32', cv.dims, (cv.data as Float32Array).map((v) => v * beta));
    } else {
      // A computed C: scale it at run time.
      const betaName = graph.uniqueName(`${output}_beta`);
      graph.setInitializer(betaName, 'float32', [], [beta]);
      bias = graph.uniqueName(`${c}_scaled`);
      prefix.push(makeNode('Mul', [c, betaName], [bias], {}, { name: graph.uniqueNodeName(`${node.name || output}_beta_mul`) }));
    }
  }
  return emit(
    graph,
    state,
    node as onnx.NodeProto,
    a!,
    { key: `${b}|${transB ? 't' : 'n'}|${alpha}`, base: b!, source: b!, data, dims: [k, n] },
    output,
    prefix,
    bias,
  );
};

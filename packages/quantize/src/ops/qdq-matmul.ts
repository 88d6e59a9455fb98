/**
 * MatMul -> QLinearMatMul and Gemm -> QGemm (com.microsoft), as onnxruntime fuses DQ -> op -> Q groups.
 * Constant operands are stored int8 behind a DequantizeLinear; a MatMul of two activations quantizes
 * both as activations (onnxruntime does the same).
 */
import { attrFloat, attrInt, type onnx } from '@shrink/core';
import { constFloat, skip, type QdqDecision, type QdqOp, type QdqPlan, type QdqView } from './qdq-types.js';

function decideMatMul(node: onnx.NodeProto, view: QdqView): QdqDecision {
  const [a, b] = node.input;
  const y = node.output[0];
  if (!a || !b || !y) return skip('MatMul needs two inputs and an output');
  const plan: QdqPlan = { activations: [], weights: [], outputs: [{ name: y }] };
  for (const [i, name] of [a, b].entries()) {
    if (!view.graph.constantValue(name)) {
      plan.activations.push(name);
      continue;
    }
    const w = constFloat(view.graph, name, i === 0 ? 'input A' : 'weight');
    if (typeof w === 'string') return skip(w);
    // Per column of a 2-D B (the output channel); anything else per tensor.
    const perColumn = view.perChannel && i === 1 && w.dims.length === 2;
    plan.weights.push(perColumn ? { input: 1, axis: 1 } : { input: i });
  }
  if (plan.activations.length === 0) return skip('both inputs are constants');
  const k = innerDim(view, a, b);
  if (k !== undefined) plan.reduction = k;
  return { kind: 'plan', plan };
}

/** K of A [.., M, K] x B [.., K, N], from B's dims or A's inferred shape; undefined when unknown. */
function innerDim(view: QdqView, a: string, b: string): number | undefined {
  const bd = view.graph.constantValue(b)?.dims ?? view.graph.shapeOf(b);
  const fromB = bd && bd.length > 0 ? bd[bd.length >= 2 ? bd.length - 2 : 0] : undefined;
  if (typeof fromB === 'number') return fromB;
  const ad = view.graph.constantValue(a)?.dims ?? view.graph.shapeOf(a);
  const fromA = ad?.[ad.length - 1];
  return typeof fromA === 'number' ? fromA : undefined;
}

function decideGemm(node: onnx.NodeProto, view: QdqView): QdqDecision {
  const [a, b, c] = node.input;
  const y = node.output[0];
  if (!a || !b || !y) return skip('Gemm needs A, B and an output');
  if (view.graph.constantValue(a)) return skip(`input A '${a}' is a constant`);
  const w = constFloat(view.graph, b, 'weight');
  if (typeof w === 'string') return skip(w);
  if (w.dims.length !== 2) return skip(`weight '${b}' has rank ${w.dims.length}; Gemm takes a matrix`);
  const transB = attrInt(node, 'transB', 0) === 1;
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  const n = transB ? w.dims[0]! : w.dims[1]!;
  const plan: QdqPlan = {
    activations: [a],
    weights: [{ input: 1, ...(view.perChannel ? { axis: transB ? 0 : 1 } : {}), ...(alpha !== 1 ? { multiplier: alpha } : {}) }],
    outputs: [{ name: y }],
    dropAttrs: ['alpha', 'beta'],
    reduction: transB ? w.dims[1]! : w.dims[0]!,
  };
  if (c) {
    const bias = constFloat(view.graph, c, 'bias');
    if (typeof bias === 'string') return skip(bias);
    // The int32 bias is one value per output column; C of shape [N], [1, N] or a scalar broadcasts to that.
    const lead = bias.dims.slice(0, -1);
    const last = bias.dims[bias.dims.length - 1] ?? 1;
    if (lead.some((d) => d !== 1) || (last !== n && last !== 1)) {
      return skip(`bias '${c}' has dims [${bias.dims.join(', ')}]; a quantized Gemm bias broadcasts from [${n}]`);
    }
    plan.bias = { input: 2, activation: a, weightInput: 1, channels: n, ...(beta !== 1 ? { multiplier: beta } : {}) };
  }
  return { kind: 'plan', plan };
}

export const QDQ_MATMUL_OPS: ReadonlyMap<string, QdqOp> = new Map([
  ['MatMul', { decide: decideMatMul, dataInputs: [0, 1] }],
  ['Gemm', { decide: decideGemm, dataInputs: [0] }],
]);

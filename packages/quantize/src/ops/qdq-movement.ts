/**
 * Data-movement ops (MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze) do not change values,
 * so their output reuses the input's scale and zero point; onnxruntime then drops the DQ -> op -> Q
 * pair and runs the op on uint8, keeping neighbouring QLinear ops connected. As in onnxruntime, they
 * are quantized only when their input already is.
 */
import { attrInt, type onnx } from '@shrink/core';
import { skip, type QdqDecision, type QdqOp, type QdqView } from './qdq-types.js';

function decideMovement(node: onnx.NodeProto, view: QdqView): QdqDecision {
  const x = node.input[0];
  const y = node.output[0];
  if (!x || !y) return skip(`${node.opType} needs an input and an output`);
  if (node.opType === 'MaxPool') {
    // uint8 MaxPool arrived in opset 12; the Indices output has no quantized form.
    if (view.opset < 12) return skip(`MaxPool takes uint8 from opset 12; the model imports opset ${view.opset}`);
    if (node.output.length > 1 && node.output[1]) return skip('MaxPool with an Indices output stays float');
    if (attrInt(node, 'storage_order', 0) !== 0) return skip('MaxPool with storage_order stays float');
  }
  if (!view.mark(x)) return skip(`input '${x}' is not quantized, so there is no QDQ pair to carry through`);
  return { kind: 'plan', plan: { activations: [], weights: [], outputs: [{ name: y, sameAs: x }] } };
}

const op: QdqOp = { decide: decideMovement, dataInputs: [] };

export const QDQ_MOVEMENT_OPS: ReadonlyMap<string, QdqOp> = new Map(
  ['MaxPool', 'Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze'].map((t) => [t, op]),
);

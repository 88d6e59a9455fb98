/**
 * Relu and Clip after a quantized op: a uint8 range that starts at 0 (Relu) or ends at the clip bounds
 * already clamps like the activation, so, as onnxruntime's QDQRemovableActivation, the node is removed
 * and its producer writes the activation's output under the activation's range. Otherwise the output
 * gets its own Q/DQ pair.
 */
import { attrFloat, type onnx } from '@shrink/core';
import { skip, type QdqDecision, type QdqOp, type QdqView } from './qdq-types.js';

/** Clip bounds when they are known constants; undefined when computed at run time. */
function clipBounds(node: onnx.NodeProto, view: QdqView): { lo: number; hi: number } | undefined {
  if (view.opset < 11) return { lo: attrFloat(node, 'min', -Infinity), hi: attrFloat(node, 'max', Infinity) };
  const bound = (i: number, dflt: number): number | undefined => {
    const name = node.input[i];
    if (!name) return dflt;
    const v = view.graph.constantValue(name);
    return v && v.data.length === 1 ? Number(v.data[0]) : undefined;
  };
  const lo = bound(1, -Infinity);
  const hi = bound(2, Infinity);
  return lo === undefined || hi === undefined ? undefined : { lo, hi };
}

function decideActivation(node: onnx.NodeProto, view: QdqView): QdqDecision {
  const x = node.input[0];
  const y = node.output[0];
  if (!x || !y) return skip(`${node.opType} needs an input and an output`);
  const mark = view.mark(x);
  if (!mark) return skip(`input '${x}' is not quantized`);
  const g = view.graph;
  let removable = mark.asOutput && mark.sameAs === undefined && g.consumers(x).length === 1 && !g.isGraphOutput(x) && !!g.producer(x);
  if (node.opType === 'Clip') {
    const b = clipBounds(node, view);
    // The uint8 range always holds 0, so only bounds around 0 are enforced by the range alone.
    removable &&= b !== undefined && b.lo <= 0 && b.hi >= 0;
  }
  if (removable) return { kind: 'fold' };
  return { kind: 'plan', plan: { activations: [], weights: [], outputs: [{ name: y }] } };
}

const op: QdqOp = { decide: decideActivation, dataInputs: [0] };

export const QDQ_ACTIVATION_OPS: ReadonlyMap<string, QdqOp> = new Map([
  ['Relu', op],
  ['Clip', op],
]);

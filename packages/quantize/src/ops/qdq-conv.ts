/** Conv -> DQ(x), DQ(int8 W), DQ(int32 B) -> Conv -> Q/DQ(y): onnxruntime fuses the group into QLinearConv. */
import { tensorNumel, type onnx } from '@shrink/core';
import { constFloat, skip, type QdqDecision, type QdqOp, type QdqView } from './qdq-types.js';

function decideConv(node: onnx.NodeProto, view: QdqView): QdqDecision {
  const [x, w, b] = node.input;
  const y = node.output[0];
  if (!x || !w || !y) return skip('Conv needs an input, a weight and an output');
  if (view.graph.constantValue(x)) return skip(`input '${x}' is a constant`);
  const weight = constFloat(view.graph, w, 'weight');
  if (typeof weight === 'string') return skip(weight);
  if (weight.dims.length < 3) return skip(`weight '${w}' has rank ${weight.dims.length}; Conv weights are [M, C/group, k...]`);
  const channels = weight.dims[0]!;
  const plan: QdqDecision & { kind: 'plan' } = {
    kind: 'plan',
    plan: {
      activations: [x],
      weights: [view.perChannel ? { input: 1, axis: 0 } : { input: 1 }],
      outputs: [{ name: y }],
      reduction: tensorNumel(weight.dims.slice(1)),
    },
  };
  if (b) {
    const bias = constFloat(view.graph, b, 'bias');
    if (typeof bias === 'string') return skip(bias);
    if (bias.data.length !== channels) return skip(`bias '${b}' has ${bias.data.length} values for ${channels} output channels`);
    plan.plan.bias = { input: 2, activation: x, weightInput: 1, channels };
  }
  return plan;
}

export const QDQ_CONV_OPS: ReadonlyMap<string, QdqOp> = new Map([['Conv', { decide: decideConv, dataInputs: [0] }]]);

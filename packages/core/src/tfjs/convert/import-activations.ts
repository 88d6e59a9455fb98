import type * as tfjs from '@tensorflow/tfjs';
import type { onnx } from '../../onnx/proto.js';
import { floatAttr, intAttr } from './onnx-attrs.js';
import type { ImportBuilder, TfValue } from './import-builder.js';

/** How an ONNX activation runs in tfjs: an activation identifier (fusable into Dense/Conv) or its own layer. */
export interface ActivationPlan {
  activation?: string;
  layer?: (name: string) => tfjs.layers.Layer;
  nonNegative: boolean;
}

export const ACTIVATION_OPS: readonly string[] = [
  'Relu',
  'Sigmoid',
  'Tanh',
  'Softplus',
  'Softsign',
  'Selu',
  'Elu',
  'HardSigmoid',
  'LeakyRelu',
  'Clip',
  'Softmax',
  'LogSoftmax',
];

const SELU_ALPHA = 1.6732632423543772;
const SELU_GAMMA = 1.0507009873554805;
const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

/** Clip bounds: attributes before opset 11, optional constant inputs since. */
function clipBounds(b: ImportBuilder, node: onnx.NodeProto): [number, number] {
  if (b.opset < 11) return [floatAttr(node, 'min', -Infinity), floatAttr(node, 'max', Infinity)];
  const lo = b.optionalConstant(node, 1)?.data[0] ?? -Infinity;
  const hi = b.optionalConstant(node, 2)?.data[0] ?? Infinity;
  return [lo, hi];
}

/**
 * The tfjs form of an activation node whose input has axis order `perm`. Throws UNSUPPORTED_OP for
 * parameters tfjs has no layer for (Elu alpha != 1, Clip with a lower bound other than 0, ...).
 */
export function activationPlan(b: ImportBuilder, node: onnx.NodeProto, perm: readonly number[]): ActivationPlan {
  const tf = b.tf;
  switch (node.opType) {
    case 'Relu':
      return { activation: 'relu', nonNegative: true };
    case 'Sigmoid':
      return { activation: 'sigmoid', nonNegative: true };
    case 'Tanh':
      return { activation: 'tanh', nonNegative: false };
    case 'Softplus':
      return { activation: 'softplus', nonNegative: true };
    case 'Softsign':
      return { activation: 'softsign', nonNegative: false };
    case 'Selu':
      if (!near(floatAttr(node, 'alpha', SELU_ALPHA), SELU_ALPHA) || !near(floatAttr(node, 'gamma', SELU_GAMMA), SELU_GAMMA)) {
        throw b.unsupported(node, 'has non-default alpha/gamma; tfjs selu uses the standard constants only');
      }
      return { activation: 'selu', nonNegative: false };
    case 'Elu':
      if (floatAttr(node, 'alpha', 1) !== 1) throw b.unsupported(node, 'has alpha != 1; tfjs ELU supports alpha 1 only');
      return { activation: 'elu', nonNegative: false };
    case 'HardSigmoid':
      if (!near(floatAttr(node, 'alpha', 0.2), 0.2) || !near(floatAttr(node, 'beta', 0.5), 0.5)) {
        throw b.unsupported(node, 'has alpha/beta other than 0.2/0.5, the only hardSigmoid tfjs has');
      }
      return { activation: 'hardSigmoid', nonNegative: true };
    case 'LeakyRelu': {
      const alpha = floatAttr(node, 'alpha', 0.01);
      return { layer: (name) => tf.layers.leakyReLU({ alpha, name }), nonNegative: false };
    }
    case 'Clip': {
      const [lo, hi] = clipBounds(b, node);
      if (lo !== 0) throw b.unsupported(node, `clips below at ${lo}; only Clip(min=0[, max]) maps to a tfjs ReLU`);
      if (hi === Infinity) return { activation: 'relu', nonNegative: true };
      if (hi === 6) return { activation: 'relu6', nonNegative: true };
      return { layer: (name) => tf.layers.reLU({ maxValue: hi, name }), nonNegative: true };
    }
    case 'Softmax':
    case 'LogSoftmax': {
      const rank = perm.length;
      // Before opset 13 Softmax flattened to 2-D from `axis` (default 1): the same thing only for the last axis.
      const dflt = b.opset < 13 ? 1 : -1;
      const axis = (intAttr(node, 'axis', dflt) + rank) % rank;
      if (b.opset < 13 && axis !== rank - 1) {
        throw b.unsupported(node, `normalises axes ${axis}..${rank - 1} together (opset ${b.opset}); only the last axis is imported`);
      }
      const tfAxis = perm[axis]!;
      const log = node.opType === 'LogSoftmax';
      if (tfAxis === rank - 1) return { activation: log ? 'logSoftmax' : 'softmax', nonNegative: !log };
      if (log) throw b.unsupported(node, 'normalises an axis that is not last in tfjs; tfjs has logSoftmax on the last axis only');
      return { layer: (name) => tf.layers.softmax({ axis: tfAxis, name }), nonNegative: true };
    }
    default:
      throw b.unsupported(node, 'is not an activation');
  }
}

/** A standalone activation node: an Activation (or dedicated) layer keeping the input's axis order. */
export function importActivation(b: ImportBuilder, node: onnx.NodeProto): void {
  const x = b.input(node, 0);
  const plan = activationPlan(b, node, x.perm);
  const name = b.layerName();
  const layer = plan.activation ? b.tf.layers.activation({ activation: plan.activation as 'relu', name }) : plan.layer!(name);
  const out: TfValue = { ...x, t: b.apply(layer, x.t), nonNegative: plan.nonNegative };
  b.values.set(node.output[0]!, out);
}

/**
 * The activation that alone consumes `value` (not a graph output), when Dense/Conv can take it as
 * their `activation`; the node is then marked absorbed by `owner`.
 */
export function fuseActivation(
  b: ImportBuilder,
  owner: onnx.NodeProto,
  value: string,
  perm: readonly number[],
): { activation: string; output: string; nonNegative: boolean } | undefined {
  const consumers = b.consumers(value);
  const next = consumers[0];
  if (consumers.length !== 1 || !next || b.graph.isGraphOutput(value) || next.input[0] !== value) return undefined;
  if (!ACTIVATION_OPS.includes(next.opType)) return undefined;
  const plan = activationPlan(b, next, perm);
  if (!plan.activation) return undefined;
  b.absorbed.set(next, owner);
  return { activation: plan.activation, output: next.output[0]!, nonNegative: plan.nonNegative };
}

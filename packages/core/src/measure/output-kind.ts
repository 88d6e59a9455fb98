import type { onnx } from '../onnx/proto.js';
import { rowsAreDistributions } from './divergence.js';

/**
 * What a classifier's output holds. Training has to know: cross-entropy on probabilities applied to
 * logits (PyTorch classifiers end in a Linear layer; nn.CrossEntropyLoss does the softmax) clips the
 * negative scores and trains the model into the ground, while cross-entropy from logits applied to
 * probabilities only learns slowly through a second softmax.
 */
export type OutputKind = 'logits' | 'probabilities';

/**
 * The last operation of a classifier, reduced to what decides its output kind. `other` covers every
 * op that settles nothing by itself (Identity, Reshape, Relu, Div, ...): sample outputs decide then.
 */
export type FinalActivation = 'softmax' | 'logSoftmax' | 'sigmoid' | 'linear' | 'other';

export interface FinalOp {
  activation: FinalActivation;
  /** How it reads in a report: "a Gemm node", "Dense layer 'fc3' (linear)". */
  what: string;
}

export interface OutputKindDecision {
  kind: OutputKind;
  /** 'model': the final op settled it; 'outputs': sample rows did; 'assumed': neither could. */
  by: 'model' | 'outputs' | 'assumed';
  /** The reason, for reports and notes. */
  reason: string;
}

/** A few of the model's output rows, `width` values (classes) each. */
export interface OutputRows {
  values: Float32Array;
  width: number;
}

/**
 * Decides logits or probabilities, the one rule every training path and distillation follow:
 * - softmax over the classes: probabilities;
 * - log-softmax: logits (softmax(log p) = p, so cross-entropy from them is the model's own);
 * - a linear op (Gemm, MatMul, Dense, ...): logits;
 * - sigmoid: probabilities — one score in (0, 1) per class; cross-entropy on probabilities
 *   normalises each row first, so the scores train as a distribution over the classes;
 * - anything else: probabilities when every sample row is non-negative and sums to 1, else logits;
 *   without rows, logits (treating probabilities as logits still trains, only slower; the reverse
 *   destroys the model).
 */
export function decideOutputKind(final: FinalOp | undefined, rows?: OutputRows): OutputKindDecision {
  switch (final?.activation) {
    case 'softmax':
      return {
        kind: 'probabilities',
        by: 'model',
        reason: `the output comes from ${final.what}, a softmax over the classes: probabilities`,
      };
    case 'logSoftmax':
      return {
        kind: 'logits',
        by: 'model',
        reason: `the output comes from ${final.what}: log-probabilities, which are logits to a softmax`,
      };
    case 'linear':
      return { kind: 'logits', by: 'model', reason: `the output comes from ${final.what}, which is linear: logits` };
    case 'sigmoid':
      return { kind: 'probabilities', by: 'model', reason: `the output comes from ${final.what}: per-class probabilities` };
    default:
      break;
  }
  if (rows && rows.width > 0 && rows.values.length > 0) {
    return rowsAreDistributions(rows.values, rows.width)
      ? { kind: 'probabilities', by: 'outputs', reason: 'every row is non-negative and sums to 1: probabilities' }
      : { kind: 'logits', by: 'outputs', reason: 'rows are not probability distributions: logits' };
  }
  return {
    kind: 'logits',
    by: 'assumed',
    reason: `${final ? `the output comes from ${final.what}, which does not say` : 'the output has no producing op'}, and no outputs were sampled: assumed logits`,
  };
}

/** Ops after which an output is an affine function of the features before it. */
const LINEAR_OPS = new Set(['Gemm', 'MatMul', 'Add', 'Conv', 'ConvTranspose', 'BatchNormalization']);

function axisOf(node: onnx.INodeProto): number | undefined {
  const a = (node.attribute ?? []).find((x) => x.name === 'axis');
  return a?.i === undefined || a.i === null ? undefined : Number(a.i);
}

/**
 * The node computing the model's first output, when it alone decides the output kind. Only the direct
 * producer counts: after an Identity or a Reshape the sample rows decide, which they do reliably.
 */
export function onnxFinalOp(model: onnx.IModelProto): (FinalOp & { node: onnx.INodeProto }) | undefined {
  const g = model.graph;
  const out = g?.output?.[0];
  const node = out?.name ? (g?.node ?? []).find((n) => (n.output ?? []).includes(out.name!)) : undefined;
  if (!node?.opType) return undefined;
  const what = `a ${node.opType} node${node.name ? ` ('${node.name}')` : ''}`;
  if (node.opType === 'Softmax' || node.opType === 'LogSoftmax') {
    const axis = axisOf(node);
    const rank = out?.type?.tensorType?.shape?.dim?.length;
    // Over the classes of [batch, classes]: the default (1 before opset 13 — the whole sample — and
    // -1 since), -1, or 1; any other axis normalises something else, and the rows decide.
    const classes = axis === undefined || axis === -1 || axis === 1 || (rank !== undefined && axis === rank - 1);
    if (!classes) return { activation: 'other', what: `${what} over axis ${axis}`, node };
    return { activation: node.opType === 'Softmax' ? 'softmax' : 'logSoftmax', what, node };
  }
  if (node.opType === 'Sigmoid') return { activation: 'sigmoid', what, node };
  if (LINEAR_OPS.has(node.opType)) return { activation: 'linear', what, node };
  return { activation: 'other', what, node };
}

/** decideOutputKind for an ONNX model (see onnxFinalOp); `rows` are its outputs on a few samples. */
export function onnxOutputKind(model: onnx.IModelProto, rows?: OutputRows): OutputKindDecision {
  return decideOutputKind(onnxFinalOp(model), rows);
}

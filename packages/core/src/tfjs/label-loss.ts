import type * as tfjs from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import type { OutputKindDecision } from '../measure/output-kind.js';
import { layersOutputKind } from './layers-output-kind.js';

type Tf = typeof tfjs;

export type LossFn = (yTrue: tfjs.Tensor, yPred: tfjs.Tensor) => tfjs.Tensor;

/**
 * Per-sample cross-entropy of one-hot labels against softmax(logits). Through logSoftmax rather than
 * tfjs's categoricalCrossentropy(fromLogits), which takes a softmax and clips it at 1e-7 before the
 * log, so a confidently wrong sample's gradient would vanish.
 */
export function crossEntropyFromLogits(tf: Tf): LossFn {
  return (yTrue, logits) => tf.tidy(() => tf.neg(tf.sum(tf.mul(yTrue, tf.logSoftmax(logits)), -1)));
}

export interface LabelLoss {
  /** For model.compile. A string for the probabilities and regression cases, as before logits were told apart. */
  loss: 'categoricalCrossentropy' | 'meanSquaredError' | LossFn;
  metric: 'accuracy' | 'mae';
  /** Classification: what the model outputs, which chose the loss. */
  outputs?: OutputKindDecision;
}

/**
 * The loss to train `model` on `train`'s labels with: mean squared error for regression; for
 * classification, cross-entropy from logits or on probabilities as the model's output is (see
 * layersOutputKind, which may run the model on a few of `train`'s samples). The one place every
 * tfjs training path (core's trainModel, pruning's fine-tuning) chooses it.
 */
export function labelLoss(tf: Tf, model: tfjs.LayersModel, train: Dataset): LabelLoss {
  if (train.task === 'regression') return { loss: 'meanSquaredError', metric: 'mae' };
  const outputs = layersOutputKind(tf, model, train);
  return { loss: outputs.kind === 'logits' ? crossEntropyFromLogits(tf) : 'categoricalCrossentropy', metric: 'accuracy', outputs };
}

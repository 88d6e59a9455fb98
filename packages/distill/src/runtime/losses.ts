import type * as tfjs from '@tensorflow/tfjs';
import type { Task } from '@shrink/core/data';

type Tf = typeof tfjs;

/**
 * How one training target row is packed, so a single tfjs loss (and tfjs's fast `fit` path) serves
 * every term: `[teacher (k) | label (k) | labelled (1) | teacher hidden 1 (d1) | ...]` against the
 * training model's output `[student logits (k) | projection 1 (d1) | ...]`. For classifiers the teacher
 * part holds logits and the label part is one-hot; for regression both hold k target values.
 */
export interface LossLayout {
  task: Task;
  /** Classes, or regression targets per sample. */
  k: number;
  temperature: number;
  alpha: number;
  /** Widths of the matched teacher activations, in order. */
  hiddenDims: readonly number[];
  hiddenWeight: number;
}

export function targetWidth(l: LossLayout): number {
  return 2 * l.k + 1 + l.hiddenDims.reduce((a, b) => a + b, 0);
}

export function outputWidth(l: LossLayout): number {
  return l.k + l.hiddenDims.reduce((a, b) => a + b, 0);
}

/**
 * Per-sample distillation loss (tfjs averages it over the batch):
 * classification — alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(y, softmax(s)),
 * after Hinton, Vinyals & Dean 2015 (the T^2 keeps the soft term's gradients on the scale of the hard
 * one as T changes); regression — alpha * MSE(s, t) + (1 - alpha) * MSE(s, y). The hard term counts
 * only on labelled rows. Each hidden pair adds hiddenWeight * MSE(projection, teacher activation).
 */
export function distillLoss(tf: Tf, l: LossLayout): (yTrue: tfjs.Tensor, yPred: tfjs.Tensor) => tfjs.Tensor {
  const { k, temperature: T, alpha } = l;
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const teacher = yTrue.slice([0, 0], [-1, k]);
      const label = yTrue.slice([0, k], [-1, k]);
      const labelled = yTrue.slice([0, 2 * k], [-1, 1]).reshape([-1]);
      const student = yPred.slice([0, 0], [-1, k]);
      let soft: tfjs.Tensor;
      let hard: tfjs.Tensor;
      if (l.task === 'classification') {
        const logPt = tf.logSoftmax(teacher.div(T));
        const logPs = tf.logSoftmax(student.div(T));
        soft = tf.sum(tf.exp(logPt).mul(logPt.sub(logPs)), -1).mul(T * T);
        hard = tf.neg(tf.sum(label.mul(tf.logSoftmax(student)), -1));
      } else {
        soft = tf.mean(tf.squaredDifference(student, teacher), -1);
        hard = tf.mean(tf.squaredDifference(student, label), -1);
      }
      let loss = soft.mul(alpha).add(hard.mul(labelled).mul(1 - alpha));
      let tOff = 2 * k + 1;
      let sOff = k;
      for (const d of l.hiddenDims) {
        const th = yTrue.slice([0, tOff], [-1, d]);
        const sh = yPred.slice([0, sOff], [-1, d]);
        loss = loss.add(tf.mean(tf.squaredDifference(sh, th), -1).mul(l.hiddenWeight));
        tOff += d;
        sOff += d;
      }
      return loss;
    });
}

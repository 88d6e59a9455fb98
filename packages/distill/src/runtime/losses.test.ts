import { test } from 'node:test';
import assert from 'node:assert/strict';
import { klDivergence, softmax } from '@shrink/core';
import { initTf } from '@shrink/core/tfjs';
import { distillLoss, targetWidth, type LossLayout } from './losses.js';

const { tf } = await initTf(undefined, 'cpu');

function lossOf(l: LossLayout, yTrue: number[][], yPred: number[][]): number[] {
  return tf.tidy(() => Array.from(distillLoss(tf, l)(tf.tensor2d(yTrue), tf.tensor2d(yPred)).dataSync()));
}

const cls = (alpha: number, temperature: number): LossLayout => ({
  task: 'classification',
  k: 3,
  temperature,
  alpha,
  hiddenDims: [],
  hiddenWeight: 1,
});

test('soft term is T^2 x KL(softmax(t/T) || softmax(s/T)) — known answer against hand math', () => {
  const t = [2, 0.5, -1];
  const s = [0.3, 1.2, 0.1];
  for (const T of [1, 2, 4]) {
    const [got] = lossOf(cls(1, T), [[...t, 0, 0, 0, 1]], [s]);
    const want = T * T * klDivergence(softmax(t, T), softmax(s, T));
    assert.ok(Math.abs(got! - want) < 1e-5, `T=${T}: ${got} vs ${want}`);
  }
  // Hand-computed for T = 1: p = softmax(t) = [0.78560, 0.17529, 0.03911], q = softmax(s) = [0.23374, 0.57490, 0.19137]
  // KL = sum p ln(p/q) = 0.95234 - 0.20820 - 0.06210 = 0.68204
  const [t1] = lossOf(cls(1, 1), [[...t, 0, 0, 0, 1]], [s]);
  assert.ok(Math.abs(t1! - 0.68204) < 1e-4, `${t1}`);
});

test('T^2 scaling: the same KL weighs T^2 times more', () => {
  const row = [[1, 0, -1, 0, 0, 0, 0]];
  const pred = [[0, 0.5, 0]];
  const [l4] = lossOf(cls(1, 4), row, pred);
  const kl4 = klDivergence(softmax([1, 0, -1], 4), softmax([0, 0.5, 0], 4));
  assert.ok(Math.abs(l4! / kl4 - 16) < 1e-3);
});

test('hard term is (1 - alpha) x CE, and only on labelled rows', () => {
  const s = [0.3, 1.2, 0.1];
  const ce = -Math.log(softmax(s)[2]!);
  const [lab, unl] = lossOf(
    cls(0, 4),
    [
      [5, 5, 5, 0, 0, 1, 1],
      [5, 5, 5, 0, 0, 1, 0],
    ],
    [s, s],
  );
  assert.ok(Math.abs(lab! - ce) < 1e-5);
  assert.equal(unl, 0);
  const [mixed] = lossOf(cls(0.7, 2), [[2, 0.5, -1, 0, 0, 1, 1]], [s]);
  const want = 0.7 * 4 * klDivergence(softmax([2, 0.5, -1], 2), softmax(s, 2)) + 0.3 * ce;
  assert.ok(Math.abs(mixed! - want) < 1e-5);
});

test('regression: alpha x MSE to the teacher + (1 - alpha) x MSE to the label, plus hidden matching', () => {
  const l: LossLayout = { task: 'regression', k: 1, temperature: 1, alpha: 0.25, hiddenDims: [2], hiddenWeight: 0.5 };
  assert.equal(targetWidth(l), 5);
  // teacher 1, label 3, labelled, teacher hidden [1, -1]; student 2, projection [0, 0]
  const [got] = lossOf(l, [[1, 3, 1, 1, -1]], [[2, 0, 0]]);
  const want = 0.25 * 1 + 0.75 * 1 + 0.5 * 1;
  assert.ok(Math.abs(got! - want) < 1e-6, `${got}`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LmAccumulator, logSoftmaxRow } from './lm-metrics.js';

test('logSoftmaxRow is log(softmax) in float64 and stays finite for large logits', () => {
  const row = [1, 2, 3, 1000, -5];
  const ls = logSoftmaxRow(row, 0, row.length);
  const m = Math.max(...row);
  const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
  row.forEach((v, i) => assert.ok(Math.abs(ls[i]! - (v - m - Math.log(z))) < 1e-12));
  // an offset into a longer array reads the right row
  const two = [0, 0, 0, 5, 1, 2];
  const second = logSoftmaxRow(two, 3, 3);
  assert.ok(Math.abs(Math.exp(second[0]!) + Math.exp(second[1]!) + Math.exp(second[2]!) - 1) < 1e-12);
});

test('perplexity is exp(mean NLL); KL of a model with itself is 0 and top-1 1; KL(p||q) matches the direct sum', () => {
  const V = 4;
  const a = Float32Array.from([2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 3, -1]);
  const b = Float32Array.from([2, 0, 0.5, 0, 0, 0, 1, 0, 0, 0, 3, 0]);
  const targets = [0, 2, 3];
  const self = new LmAccumulator(V);
  self.add(a, targets, 0, 3, a);
  const c = self.comparison()!;
  assert.equal(c.meanKL, 0);
  assert.equal(c.top1Agreement, 1);
  assert.equal(c.baseline.perplexity, c.candidate.perplexity);

  const acc = new LmAccumulator(V);
  acc.add(a, targets, 0, 2, b);
  acc.add(a, targets, 2, 3, b); // two calls sum like one
  const r = acc.comparison()!;
  const soft = (x: Float32Array, i: number) => {
    const row = [...x.subarray(i * V, i * V + V)];
    const z = row.reduce((s, v) => s + Math.exp(v), 0);
    return row.map((v) => Math.exp(v) / z);
  };
  let nll = 0;
  let kl = 0;
  for (let i = 0; i < 3; i++) {
    const p = soft(a, i);
    const q = soft(b, i);
    nll -= Math.log(p[targets[i]!]!);
    kl += p.reduce((s, pj, j) => s + pj * Math.log(pj / q[j]!), 0);
  }
  assert.ok(Math.abs(r.baseline.perplexity - Math.exp(nll / 3)) < 1e-12);
  assert.ok(Math.abs(r.meanKL - kl / 3) / (kl / 3) < 1e-12);
  // row 1: a picks class 1, b picks class 2; the others agree
  assert.ok(Math.abs(r.top1Agreement - 2 / 3) < 1e-15);
  assert.equal(r.tokens, 3);
  assert.throws(() => acc.add(a, [0, 9, 0], 1, 2), /target token 9 .* outside the vocabulary 0..3/);
});

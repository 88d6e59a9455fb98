import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDistribution, klDivergence, rowsAreDistributions, softmax } from './divergence.js';

test('softmax with temperature matches hand-computed values', () => {
  // exp([1,2,3]/2) = [1.6487, 2.7183, 4.4817]; sum 8.8487
  const p = softmax([1, 2, 3], 2);
  assert.ok(Math.abs(p[0]! - 0.186324) < 1e-6);
  assert.ok(Math.abs(p[1]! - 0.307196) < 1e-6);
  assert.ok(Math.abs(p[2]! - 0.50648) < 1e-5);
  // Large logits do not overflow.
  const big = softmax([1000, 1000]);
  assert.deepEqual([...big], [0.5, 0.5]);
});

test('KL divergence: known answer, zero for equal rows, p=0 terms add nothing', () => {
  // KL([0.5,0.5] || [0.9,0.1]) = 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1) = 0.510826
  assert.ok(Math.abs(klDivergence([0.5, 0.5], [0.9, 0.1]) - 0.5108256) < 1e-6);
  assert.equal(klDivergence([0.2, 0.8], [0.2, 0.8]), 0);
  assert.equal(klDivergence([0, 1], [0.5, 0.5]), Math.log(2));
  assert.ok(Number.isFinite(klDivergence([0.5, 0.5], [1, 0])));
});

test('rows are recognised as distributions', () => {
  assert.equal(isDistribution([0.25, 0.75]), true);
  assert.equal(isDistribution([2, -1]), false);
  assert.equal(isDistribution([0.5, 0.6]), false);
  assert.equal(rowsAreDistributions(new Float32Array([0.25, 0.75, 1, 0]), 2), true);
  assert.equal(rowsAreDistributions(new Float32Array([0.25, 0.75, 2, -1]), 2), false);
});

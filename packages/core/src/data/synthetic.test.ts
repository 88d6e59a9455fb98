import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeSeedData, seedTrueFunction } from './synthetic.js';
import { resolveData, resolveSplit } from './resolve.js';

test('seed data: deterministic, 1000 inputs, y = f(x) + noise with the documented f', () => {
  const a = makeSeedData({ n: 50, seed: 5 });
  const b = makeSeedData({ n: 50, seed: 5 });
  assert.deepEqual(a.x, b.x);
  assert.deepEqual(a.y, b.y);
  assert.deepEqual(a.sampleShape, [1000]);
  assert.equal(a.task, 'regression');
  const c = makeSeedData({ n: 50, seed: 6 });
  assert.notDeepEqual(c.y, a.y);
  // Without noise y is exactly f(x) (up to float32 rounding of y).
  const clean = makeSeedData({ n: 20, seed: 5, noise: 0 });
  const f = seedTrueFunction(5);
  for (let i = 0; i < clean.n; i++) {
    const want = f(clean.x.subarray(i * 1000, (i + 1) * 1000));
    assert.ok(Math.abs(clean.y[i]! - want) < 1e-5, `sample ${i}: ${clean.y[i]} vs ${want}`);
  }
  // Noise 0.1: residuals have sd ~0.1.
  const noisy = makeSeedData({ n: 400, seed: 5, noise: 0.1 });
  let ss = 0;
  for (let i = 0; i < noisy.n; i++) ss += (noisy.y[i]! - f(noisy.x.subarray(i * 1000, (i + 1) * 1000))) ** 2;
  const sd = Math.sqrt(ss / noisy.n);
  assert.ok(sd > 0.08 && sd < 0.12, `noise sd ${sd}`);
  // The first samples do not depend on n.
  assert.deepEqual(noisy.x.subarray(0, 50 * 1000), a.x);
});

test('seed preset resolves to a split; :N makes N samples; bad specs list the valid forms', async () => {
  const s = await resolveSplit('seed:100');
  assert.equal(s.train.n, 80);
  assert.equal(s.test.n, 20);
  const syn = await resolveData('synthetic:100', { split: 'all' });
  assert.deepEqual(syn.y, makeSeedData({ n: 100 }).y);
  await assert.rejects(resolveData('mnist'), {
    code: 'INVALID_ARGUMENT',
    message: /data "mnist" is neither a preset nor an existing path; expected a preset \(digits, fashion-mnist/,
  });
  await assert.rejects(resolveData(''), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(resolveData('digits', { limit: 0 }), { code: 'INVALID_ARGUMENT' });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIGITS_FILE, loadDigits } from './digits.js';
import { resolveData, resolveSplit } from './resolve.js';
import { existsSync } from 'node:fs';

test('digits: 1,797 samples of 64 pixels in [0, 1], 10 classes, known first and last rows', async () => {
  assert.ok(existsSync(DIGITS_FILE), `vendored asset missing at ${DIGITS_FILE}`);
  const ds = await loadDigits();
  assert.equal(ds.n, 1797);
  assert.deepEqual(ds.sampleShape, [64]);
  assert.equal(ds.numClasses, 10);
  assert.equal(ds.task, 'classification');
  assert.equal(ds.x.length, 1797 * 64);
  // First CSV row: 0,0,5,13,9,1,0,0, ... label 0.
  assert.deepEqual(
    Array.from(ds.x.subarray(0, 8)),
    [0, 0, 5, 13, 9, 1, 0, 0].map((v) => Math.fround(v / 16)),
  );
  assert.equal(ds.y[0], 0);
  // Last row: 0,0,10,14,8,1,0,0 ... label 8.
  assert.deepEqual(
    Array.from(ds.x.subarray(1796 * 64, 1796 * 64 + 8)),
    [0, 0, 10, 14, 8, 1, 0, 0].map((v) => Math.fround(v / 16)),
  );
  assert.equal(ds.y[1796], 8);
  let min = Infinity;
  let max = -Infinity;
  for (const v of ds.x) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  const counts = new Array(10).fill(0);
  for (const c of ds.y) counts[c]++;
  assert.deepEqual(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
});

test('digits image view has shape [8, 8, 1] over the same values', async () => {
  const img = await loadDigits({ shape: 'image' });
  assert.deepEqual(img.sampleShape, [8, 8, 1]);
  assert.equal(img.x[2], 5 / 16);
});

test('digits preset: default 80/20 stratified split with seed 0, stable and disjoint', async () => {
  const a = await resolveSplit('digits');
  const b = await resolveSplit('digits');
  assert.equal(a.train.n + a.test.n, 1797);
  assert.ok(Math.abs(a.test.n - 0.2 * 1797) <= 10, `test has ${a.test.n}`);
  assert.deepEqual(a.test.x, b.test.x);
  assert.deepEqual(a.train.y, b.train.y);
  assert.equal(a.test.name, 'digits:test');
  const test = await resolveData('digits');
  assert.deepEqual(test.y, a.test.y);
  const limited = await resolveData('digits:200', { split: 'all' });
  assert.equal(limited.n, 200);
  const other = await resolveSplit('digits', { seed: 1 });
  assert.notDeepEqual(other.test.y, a.test.y);
});

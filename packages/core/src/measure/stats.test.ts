import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mean as mjMean, quantileSeq, std } from 'mathjs';
import { median, quantiles, quantileSorted, summarize } from './stats.js';
import { ShrinkError } from '../errors.js';

test('summarize: known answers on 1..10', () => {
  const s = summarize([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assert.equal(s.n, 10);
  assert.equal(s.mean, 5.5);
  assert.equal(s.min, 1);
  assert.equal(s.max, 10);
  assert.equal(s.p50, 5.5);
  // type 7: pos = 9 * 0.9 = 8.1 -> 9 + 0.1 * (10 - 9)
  assert.ok(Math.abs(s.p90 - 9.1) < 1e-12);
  assert.ok(Math.abs(s.p99 - 9.91) < 1e-12);
  assert.ok(Math.abs(s.p10 - 1.9) < 1e-12);
  // sample stdev of 1..10 = sqrt(82.5 / 9)
  assert.ok(Math.abs(s.stdev - Math.sqrt(82.5 / 9)) < 1e-12);
});

test('summarize: one value has stdev 0 and every quantile equal to it', () => {
  const s = summarize(new Float32Array([2.5]));
  assert.deepEqual([s.n, s.mean, s.stdev, s.min, s.max, s.p50, s.p99], [1, 2.5, 0, 2.5, 2.5, 2.5, 2.5]);
});

test('summarize/quantiles agree with mathjs quantileSeq, std, mean (tolerance 1e-9 relative)', () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const n of [2, 3, 7, 50, 101]) {
    const v = Array.from({ length: n }, () => rand() * 100 - 20);
    const s = summarize(v);
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${a} vs ${b} (n=${n})`);
    close(s.mean, mjMean(v) as number);
    close(s.stdev, std(v) as unknown as number);
    for (const [q, got] of [
      [0.1, s.p10],
      [0.5, s.p50],
      [0.9, s.p90],
      [0.99, s.p99],
    ] as const) {
      close(got, quantileSeq(v, q) as number);
    }
    close(median(v), quantileSeq(v, 0.5) as number);
    const [a, b] = quantiles(v, [0.25, 0.75]);
    close(a!, quantileSeq(v, 0.25) as number);
    close(b!, quantileSeq(v, 0.75) as number);
  }
});

test('summarize does not reorder its input', () => {
  const v = [3, 1, 2];
  summarize(v);
  assert.deepEqual(v, [3, 1, 2]);
});

test('empty, non-finite and out-of-range inputs are refused with INVALID_ARGUMENT', () => {
  const isArg = (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT';
  assert.throws(
    () => summarize([], 'latency'),
    (e) => isArg(e) && /latency/.test((e as Error).message),
  );
  assert.throws(() => summarize([1, NaN]), isArg);
  assert.throws(() => summarize([1, Infinity]), isArg);
  assert.throws(() => quantileSorted([1, 2], 1.5), isArg);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShrinkError } from '@shrink/core';
import { createRng } from '@shrink/core/data';
import { createCollector, entropyRange, Histogram, percentileRange } from './index.js';

function uniform(n: number, lo: number, hi: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

function normal(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

test('minmax: running min and max over batches, per tensor', () => {
  const c = createCollector('minmax');
  c.collect('a', Float32Array.from([0.5, 0.25, 0.75]));
  c.collect('a', Float32Array.from([-2, 1]));
  c.collect('b', Float32Array.from([3, 4]));
  c.collect('z', new Float32Array(0));
  const r = c.ranges();
  assert.deepEqual(r.get('a'), [-2, 1]);
  assert.deepEqual(r.get('b'), [3, 4]);
  assert.deepEqual(r.get('z'), [0, 0]);
});

test('minmax on uniform data is its exact extremes', () => {
  const x = uniform(10000, -1, 3, 1);
  const c = createCollector('minmax');
  for (let i = 0; i < 10; i++) c.collect('x', x.subarray(i * 1000, (i + 1) * 1000));
  const [lo, hi] = c.ranges().get('x')!;
  assert.equal(lo, Math.min(...x));
  assert.equal(hi, Math.max(...x));
  assert.ok(lo < -0.99 && hi > 2.99);
});

test('histogram: width doubling merges bin pairs exactly, signed and unsigned', () => {
  for (const signed of [false, true]) {
    const h = new Histogram(16, signed);
    const batches = [uniform(500, -0.1, 0.1, 7), uniform(500, -1, 1, 8), Float32Array.from([-3.5, 0, 7.25])];
    for (const b of batches) h.add(b);
    assert.equal(h.total, 1003);
    assert.ok(h.limit > 7.25 && h.width > 0);
    // Binning every value directly at the final width gives the same counts.
    const direct = new Float64Array(16);
    for (const b of batches) {
      for (const v of b) direct[Math.min(15, Math.floor((signed ? v : Math.abs(v)) / h.width) + h.zeroBin)]!++;
    }
    assert.deepEqual(Array.from(h.counts), Array.from(direct));
    assert.equal(h.min, -3.5);
    assert.equal(h.max, 7.25);
  }
});

test('histogram: zeros seen before any non-zero value are kept', () => {
  const h = new Histogram(8, false);
  h.add(new Float32Array(5));
  h.add(Float32Array.from([2]));
  assert.equal(h.counts[0], 5);
  assert.equal(h.total, 6);
  assert.deepEqual(percentileRange(h, 50), [0, 2 / 7]);
});

test('percentile clips rare outliers, 100 keeps them, the range is symmetric in |x| then clipped to [min, max]', () => {
  const x = uniform(100000, 0, 1, 2);
  x[10] = 100;
  x[20] = 90;
  const p = createCollector('percentile', { percentile: 99.99 });
  const full = createCollector('percentile', { percentile: 100 });
  // Small values first, so the histogram has to widen as the outliers arrive.
  for (let i = 9; i >= 0; i--) {
    p.collect('x', x.subarray(i * 10000, (i + 1) * 10000));
    full.collect('x', x.subarray(i * 10000, (i + 1) * 10000));
  }
  const [lo, hi] = p.ranges().get('x')!;
  assert.equal(lo, Math.min(...x)); // no negative values: clipped to min
  assert.ok(hi >= 0.99 && hi <= 1.1, `99.99th percentile of |x| should be ~1, got ${hi}`);
  assert.deepEqual(full.ranges().get('x'), [Math.min(...x), 100]);

  const s = normal(100000, 3);
  s[5] = -40;
  const sym = createCollector('percentile', { percentile: 99.9 });
  sym.collect('s', s);
  const [slo, shi] = sym.ranges().get('s')!;
  assert.ok(shi > 3 && shi < 3.6, `99.9th percentile of |N(0,1)| is ~3.29, got ${shi}`);
  assert.equal(slo, -shi);
});

test('entropy keeps the bulk of a Gaussian and drops far outliers', () => {
  const x = normal(200000, 4);
  for (let i = 0; i < 20; i++) x[i * 1000] = i % 2 === 0 ? 60 : -60;
  const c = createCollector('entropy');
  for (let i = 0; i < 4; i++) c.collect('x', x.subarray(i * 50000, (i + 1) * 50000));
  const [lo, hi] = c.ranges().get('x')!;
  assert.ok(hi > 2.5 && hi < 15, `entropy threshold should sit a few sigma out, got ${hi}`);
  assert.equal(lo, -hi);
});

test('entropy on a non-negative tensor starts at its min', () => {
  const x = uniform(50000, 0, 1, 5).map((v) => v * v);
  x[0] = 50;
  const h = new Histogram(2048, true);
  h.add(x);
  const [lo, hi] = entropyRange(h);
  assert.equal(lo, h.min);
  assert.ok(lo >= 0);
  assert.ok(hi >= 0.5 && hi < 10, `got ${hi}`);
});

test('non-finite activations are refused naming the tensor', () => {
  for (const m of ['minmax', 'percentile', 'entropy'] as const) {
    const c = createCollector(m);
    assert.throws(
      () => c.collect('conv1_out', Float32Array.from([1, Number.NaN])),
      (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_DATA' && /conv1_out/.test(e.message) && /index 1/.test(e.message),
    );
    assert.throws(() => c.collect('t', Float32Array.from([Number.POSITIVE_INFINITY])), /non-finite/);
  }
});

test('bad options are refused', () => {
  assert.throws(() => createCollector('percentile', { percentile: 0 }), /percentile 0 must be in \(0, 100\]/);
  assert.throws(() => createCollector('entropy', { bins: 30 }).collect('x', Float32Array.from([1])), /multiple of 4/);
});

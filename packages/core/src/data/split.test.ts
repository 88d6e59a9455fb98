import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDataset } from './dataset-ops.js';
import { splitDataset } from './split.js';
import { createRng, deriveSeed, mulberry32, permutation } from './rng.js';

function classData(counts: number[]) {
  const y: number[] = [];
  counts.forEach((c, k) => {
    for (let i = 0; i < c; i++) y.push(k);
  });
  // Feature = sample index, so we can see which samples went where.
  return createDataset({
    name: 'toy',
    task: 'classification',
    sampleShape: [1],
    x: Float32Array.from(y.map((_, i) => i)),
    y: Int32Array.from(y),
  });
}

test('mulberry32 is deterministic and roughly uniform', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b()),
  );
  const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.ok(xs.every((v) => v >= 0 && v < 1));
  assert.notEqual(mulberry32(43)(), mulberry32(42)());
  const r = createRng(7);
  const normals = Array.from({ length: 4000 }, () => r.normal());
  const m = normals.reduce((s, v) => s + v, 0) / normals.length;
  const sd = Math.sqrt(normals.reduce((s, v) => s + (v - m) ** 2, 0) / normals.length);
  assert.ok(Math.abs(m) < 0.06 && Math.abs(sd - 1) < 0.05, `normal mean ${m} sd ${sd}`);
  assert.deepEqual(
    Array.from(permutation(10, createRng(1))).sort((p, q) => p - q),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.notEqual(deriveSeed(0, 1), deriveSeed(0, 2));
});

test('splitDataset is stratified, disjoint, complete and deterministic', () => {
  const ds = classData([50, 30, 20]);
  const s = splitDataset(ds, { testFraction: 0.2, seed: 3 });
  const count = (y: ArrayLike<number>, k: number) => Array.from(y).filter((v) => v === k).length;
  assert.deepEqual(
    [0, 1, 2].map((k) => count(s.test.y, k)),
    [10, 6, 4],
  );
  assert.deepEqual(
    [0, 1, 2].map((k) => count(s.train.y, k)),
    [40, 24, 16],
  );
  const ids = [...s.train.x, ...s.test.x].sort((a, b) => a - b);
  assert.deepEqual(
    ids,
    Array.from({ length: 100 }, (_, i) => i),
  );
  const again = splitDataset(ds, { testFraction: 0.2, seed: 3 });
  assert.deepEqual(again.test.x, s.test.x);
  const other = splitDataset(ds, { testFraction: 0.2, seed: 4 });
  assert.notDeepEqual(other.test.x, s.test.x);
  assert.throws(() => splitDataset(ds, { testFraction: 1 }), { code: 'INVALID_ARGUMENT' });
});

test('splitDataset on regression shuffles all samples', () => {
  const ds = createDataset({
    name: 'r',
    task: 'regression',
    sampleShape: [2],
    x: Float32Array.from({ length: 40 }, (_, i) => i),
    y: Float32Array.from({ length: 20 }, (_, i) => i / 2),
  });
  const s = splitDataset(ds, { testFraction: 0.25, seed: 0 });
  assert.equal(s.test.n, 5);
  assert.equal(s.train.n, 15);
  // Each sample keeps its x pair and its y together.
  for (let i = 0; i < s.test.n; i++) assert.equal(s.test.x[2 * i]! / 4, s.test.y[i]);
});

test('splitDataset with a huge class index (a typo in a data file) is as fast as with small ones', () => {
  // Found by the fuzz suite: label 1e9 made a sparse per-class array whose 1e9 holes took ~45 s to walk.
  const y = Int32Array.from({ length: 12 }, (_, i) => (i === 8 ? 1e9 : i % 3));
  const ds = createDataset({
    name: 'big-label',
    task: 'classification',
    sampleShape: [1],
    x: Float32Array.from(y, (_, i) => i),
    y,
    numClasses: 1e9 + 1,
  });
  const t0 = performance.now();
  const s = splitDataset(ds, { testFraction: 0.25, seed: 1 });
  assert.ok(performance.now() - t0 < 1000, `took ${performance.now() - t0} ms`);
  assert.equal(s.train.n + s.test.n, 12);
});

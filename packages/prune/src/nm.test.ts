import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  encodeModel,
  Graph,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  parseOptions,
  ShrinkError,
  type onnx,
} from '@shrink/core';
import { keptInGroup, pruneNM, pruneNMTensor } from './nm.js';
import { pruneOptionsSchema, type PruneOptions } from './options.js';
import { convNet, mlp, randn, runModel, zerosOf } from './unstructured.fixture.js';

const opts = (o: PruneOptions = {}) => parseOptions(pruneOptionsSchema, { method: 'nm', ...o });
const weight = (m: onnx.IModelProto, name: string) => Graph.from(m).readInitializer(name).data as Float32Array;

/**
 * Checks every group of M consecutive elements along `axis` independently of the implementation:
 * the kept elements are exactly the `keep` largest |w| of the original group, at their old values.
 * Returns the number of groups checked.
 */
function assertNMPattern(orig: Float32Array, pruned: Float32Array, dims: number[], axis: number, n: number, m: number): number {
  const stride = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const len = dims[axis]!;
  let groups = 0;
  for (let flat = 0; flat < orig.length; flat++) {
    const r = Math.floor(flat / stride) % len;
    if (r % m !== 0) continue;
    const members = Array.from({ length: Math.min(m, len - r) }, (_, j) => flat + j * stride);
    const keep = members.length === m ? n : Math.ceil((n * members.length) / m);
    const kept = members.filter((i) => pruned[i] !== 0);
    assert.equal(kept.length, keep, `group at ${flat} (axis ${axis}) keeps ${keep}`);
    for (const i of kept) assert.equal(pruned[i], orig[i]);
    const smallestKept = Math.min(...kept.map((i) => Math.abs(orig[i]!)));
    for (const i of members)
      if (pruned[i] === 0) assert.ok(Math.abs(orig[i]!) <= smallestKept, `group at ${flat}: a larger weight was dropped`);
    groups++;
  }
  return groups;
}

test('keptInGroup: N for a full group, ceil(N * len / M) for a short last group', () => {
  assert.deepEqual(
    [4, 3, 2, 1].map((len) => keptInGroup(2, 4, len)),
    [2, 2, 1, 1],
  );
  assert.deepEqual(
    [8, 5, 1].map((len) => keptInGroup(1, 8, len)),
    [1, 1, 1],
  );
  assert.equal(keptInGroup(4, 4, 3), 3, 'never more than the group holds');
});

test('2:4 MLP: MatMul B [64,32] in groups of 4 rows per column, Gemm transB B [16,32] along its last axis; runs in onnxruntime', async () => {
  const model = mlp();
  const before = encodeModel(model);
  const { model: p, report } = pruneNM(model, opts({ n: 2, m: 4 }));
  assert.deepEqual(encodeModel(model), before, 'the input model is not mutated');
  assert.equal(assertNMPattern(weight(model, 'w1'), weight(p, 'w1'), [64, 32], 0, 2, 4), 16 * 32);
  assert.equal(assertNMPattern(weight(model, 'w2'), weight(p, 'w2'), [16, 32], 1, 2, 4), 16 * 8);
  assert.equal(zerosOf(weight(p, 'w1')), 1024);
  assert.deepEqual(weight(p, 'b1'), weight(model, 'b1'), 'biases untouched');
  assert.deepEqual(weight(p, 'b2'), weight(model, 'b2'));
  assert.equal(report.method, 'nm');
  assert.equal(report.targetSparsity, 0.5);
  assert.equal(report.sparsity, 0.5);
  assert.deepEqual(
    report.layers.map((l) => [l.name, l.action, l.sparsity]),
    [
      ['fc1', 'pruned', 0.5],
      ['fc2', 'pruned', 0.5],
    ],
  );
  assert.deepEqual(report.unhandled, { Add: 1, Relu: 1 });
  assert.ok(report.notes.some((n) => /gzip/.test(n)));

  const x = randn(99, 8 * 64);
  const y = await runModel(p, 'x', x, [8, 64]);
  assert.equal(y.length, 8 * 16);
  assert.ok(y.every(Number.isFinite));
});

test('Gemm without transB: B [K, N] is grouped along K (axis 0)', () => {
  const w = randn(3, 8 * 4);
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('Gemm', ['x', 'w'], ['y'], {}, { name: 'g' })],
      inputs: [makeValueInfo('x', 'float32', [1, 8])],
      outputs: [makeValueInfo('y', 'float32', [1, 4])],
      initializers: [makeTensor('w', 'float32', [8, 4], w)],
    }),
  );
  const { model: p } = pruneNM(model, opts({ n: 1, m: 4 }));
  assert.equal(assertNMPattern(w, weight(p, 'w'), [8, 4], 0, 1, 4), 2 * 4);
  assert.equal(zerosOf(weight(p, 'w')), 24);
});

test('2:4 conv net: W [O, I, kh, kw] grouped along I at each (o, kh, kw), I = 6 leaves a short group keeping 1 of 2; runs in onnxruntime', async () => {
  const model = convNet();
  const { model: p, report } = pruneNM(model, opts());
  assert.equal(assertNMPattern(weight(model, 'cw1'), weight(p, 'cw1'), [8, 6, 3, 3], 1, 2, 4), 8 * 2 * 9);
  assert.equal(assertNMPattern(weight(model, 'cw2'), weight(p, 'cw2'), [4, 8, 3, 3], 1, 2, 4), 4 * 2 * 9);
  // conv1: each (o, kh, kw) keeps 2 + 1 of 6.
  assert.equal(zerosOf(weight(p, 'cw1')), 8 * 9 * 3);
  assert.deepEqual(weight(p, 'cb1'), weight(model, 'cb1'));
  assert.deepEqual(
    report.layers.map((l) => [l.name, l.sparsity]),
    [
      ['conv1', 0.5],
      ['conv2', 0.5],
    ],
  );

  const x = randn(11, 2 * 6 * 64);
  const y = await runModel(p, 'x', x, [2, 6, 8, 8]);
  assert.equal(y.length, 2 * 4 * 64);
  assert.ok(y.every(Number.isFinite));
});

test('pruneNMTensor on ConvTranspose-style axis 0 and ties: the lower index is kept', () => {
  const v = Float32Array.from([1, -1, 1, 1, 5, 0.5, -0.5, 4]);
  pruneNMTensor(v, [4, 2], 0, 2, 4);
  // Column 0 holds 1, 1, 5, -0.5 -> keeps 5 and the first 1; column 1 holds -1, 1, 0.5, 4 -> keeps 4 and -1.
  assert.deepEqual([...v], [1, -1, 0, 0, 5, 0, 0, 4]);
});

test('n = m keeps every weight', () => {
  const model = mlp();
  const { model: p, report } = pruneNM(model, opts({ n: 4, m: 4 }));
  assert.deepEqual(weight(p, 'w1'), weight(model, 'w1'));
  assert.equal(report.targetSparsity, 0);
});

test('bad input: N > M, N < 1, unknown include names', () => {
  const model = mlp();
  const bad = (n: number, m: number) => () => pruneNM(model, { ...opts(), n, m });
  for (const [n, m] of [
    [5, 4],
    [0, 4],
    [2, 0],
  ] as const) {
    assert.throws(
      bad(n, m),
      (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT' && /1 <= n <= m, got n=/.test(e.message),
      `n=${n} m=${m}`,
    );
  }
  assert.throws(() => pruneNM(model, opts({ include: ['conv7'] })), /include: no node or op type named 'conv7'/);
});

test('ConvTranspose: W [I, O, kh, kw] grouped along I (axis 0); runs in onnxruntime', async () => {
  const w = randn(21, 8 * 3 * 2 * 2);
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('ConvTranspose', ['x', 'w'], ['y'], { strides: [2, 2] }, { name: 'up' })],
      inputs: [makeValueInfo('x', 'float32', [1, 8, 4, 4])],
      outputs: [makeValueInfo('y', 'float32', [1, 3, 8, 8])],
      initializers: [makeTensor('w', 'float32', [8, 3, 2, 2], w)],
    }),
  );
  const { model: p, report } = pruneNM(model, opts({ n: 1, m: 4 }));
  assert.equal(assertNMPattern(w, weight(p, 'w'), [8, 3, 2, 2], 0, 1, 4), 2 * 12);
  assert.equal(report.layers[0]!.sparsity, 0.75);
  const y = await runModel(p, 'x', randn(5, 8 * 16), [1, 8, 4, 4]);
  assert.equal(y.length, 3 * 64);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel, Graph, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, parseOptions, ShrinkError } from '@shrink/core';
import { pruneMagnitude, zeroSmallest } from './magnitude.js';
import { pruneOptionsSchema, type PruneOptions } from './options.js';
import { convNet, mlp, randn, runModel, zerosOf } from './unstructured.fixture.js';

const opts = (o: PruneOptions = {}) => parseOptions(pruneOptionsSchema, o);
const weight = (m: Parameters<typeof Graph.from>[0], name: string) => Graph.from(m).readInitializer(name).data as Float32Array;
const X = randn(99, 8 * 64);

/** Every zeroed weight is no larger in |w| than every kept one. */
function assertSmallestZeroed(orig: Float32Array[], pruned: Float32Array[]): void {
  let maxZeroed = 0;
  let minKept = Infinity;
  orig.forEach((o, t) =>
    o.forEach((v, i) => {
      if (pruned[t]![i] === 0) maxZeroed = Math.max(maxZeroed, Math.abs(v));
      else {
        assert.equal(pruned[t]![i], v, 'kept weights keep their value');
        minKept = Math.min(minKept, Math.abs(v));
      }
    }),
  );
  assert.ok(maxZeroed <= minKept, `largest zeroed |w| ${maxZeroed} <= smallest kept ${minKept}`);
}

test('per layer 0.5: exactly half of each weight is zero (1024 of 64x32), the smallest |w|; biases untouched; runs in onnxruntime', async () => {
  const model = mlp();
  const before = encodeModel(model);
  const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0.5 }));
  assert.deepEqual(encodeModel(model), before, 'the input model is not mutated');
  const w1 = weight(p, 'w1');
  const w2 = weight(p, 'w2');
  assert.equal(zerosOf(w1), 1024);
  assert.equal(zerosOf(w2), 256);
  assertSmallestZeroed([weight(model, 'w1')], [w1]);
  assertSmallestZeroed([weight(model, 'w2')], [w2]);
  assert.deepEqual(weight(p, 'b1'), weight(model, 'b1'));
  assert.deepEqual(weight(p, 'b2'), weight(model, 'b2'));
  assert.deepEqual(Graph.from(p).shapeOf('w1'), [64, 32]);

  assert.deepEqual(
    report.layers.map((l) => [l.name, l.opType, l.action, l.weight, l.elementsAfter, l.sparsity]),
    [
      ['fc1', 'MatMul', 'pruned', 'w1', 2048, 0.5],
      ['fc2', 'Gemm', 'pruned', 'w2', 512, 0.5],
    ],
  );
  assert.equal(report.method, 'magnitude');
  assert.equal(report.targetSparsity, 0.5);
  assert.equal(report.sparsity, 0.5);
  assert.deepEqual(report.unhandled, { Add: 1, Relu: 1 });
  assert.match(report.notes[0]!, /does not make dense onnxruntime kernels faster.*gzip/);

  const y = await runModel(p, 'x', X, [8, 64]);
  assert.equal(y.length, 8 * 16);
  assert.ok(y.every(Number.isFinite));
});

test('sparsity 0 leaves every weight identical and the outputs bit-equal', async () => {
  const model = mlp();
  const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0 }));
  for (const w of ['w1', 'w2', 'b1', 'b2']) assert.deepEqual(weight(p, w), weight(model, w), w);
  assert.equal(report.sparsity, 0);
  assert.deepEqual(await runModel(p, 'x', X, [8, 64]), await runModel(model, 'x', X, [8, 64]));
});

test('ties at the threshold are broken by position so the count is exact', () => {
  const a = new Float32Array(10).fill(1);
  zeroSmallest([a], 3);
  assert.deepEqual([...a], [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
  const b = Float32Array.from([2, -1, 1, 3]);
  const c = Float32Array.from([1, -1, 5]);
  zeroSmallest([b, c], 3);
  assert.deepEqual(
    [[...b], [...c]],
    [
      [2, 0, 0, 3],
      [0, -1, 5],
    ],
    'the 3 earliest of the four |w| = 1',
  );
  const d = Float32Array.from([0.5, -0.25]);
  zeroSmallest([d], 0);
  assert.deepEqual([...d], [0.5, -0.25], 'k = 0 changes nothing');
});

test('per layer: a sparsity that is not a whole count rounds to the nearest element', () => {
  // 0.3 * 2048 = 614.4 -> 614; 0.3 * 512 = 153.6 -> 154.
  const { model: p } = pruneMagnitude(mlp(), opts({ sparsity: 0.3 }));
  assert.equal(zerosOf(weight(p, 'w1')), 614);
  assert.equal(zerosOf(weight(p, 'w2')), 154);
});

test('global: one threshold over both layers; the small-scale layer loses more, the total is exact', () => {
  const model = mlp(1, 10);
  const o1 = weight(model, 'w1');
  const o2 = weight(model, 'w2');
  const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0.5, scope: 'global' }));
  const w1 = weight(p, 'w1');
  const w2 = weight(p, 'w2');
  assert.equal(zerosOf(w1) + zerosOf(w2), 1280, 'half of 2048 + 512');
  assertSmallestZeroed([o1, o2], [w1, w2]);
  // Independent expectation: the 1280th smallest |w| of both layers is the threshold.
  const all = [...o1, ...o2].map(Math.abs).sort((a, b) => a - b);
  const t = all[1279]!;
  const want1 = [...o1].filter((v) => Math.abs(v) <= t).length;
  assert.equal(zerosOf(w1), want1);
  const [r1, r2] = report.layers;
  assert.equal(r1!.sparsity, want1 / 2048);
  assert.equal(r2!.sparsity, (1280 - want1) / 512);
  assert.ok(r1!.sparsity > 0.55 && r2!.sparsity < 0.2, `w1 ${r1!.sparsity} vs w2 ${r2!.sparsity}: per-layer sparsities differ`);
  assert.equal(report.sparsity, 0.5);
  assert.ok(report.notes.some((n) => /global scope/.test(n)));
});

test('pruneBias: Gemm input C and the Add after a MatMul are pruned with their layer and counted in its row', () => {
  const model = mlp();
  const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0.5, pruneBias: true }));
  assert.equal(zerosOf(weight(p, 'b1')), 16);
  assert.equal(zerosOf(weight(p, 'b2')), 8);
  assert.equal(zerosOf(weight(p, 'w1')), 1024);
  assert.deepEqual(
    report.layers.map((l) => [l.elementsAfter, l.sparsity]),
    [
      [2048 + 32, 0.5],
      [512 + 16, 0.5],
    ],
  );
});

test('conv net: Conv weights pruned per layer, bias kept, runs in onnxruntime', async () => {
  const model = convNet();
  const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0.75 }));
  assert.equal(zerosOf(weight(p, 'cw1')), 324, '0.75 of 8*6*3*3');
  assert.equal(zerosOf(weight(p, 'cw2')), 216, '0.75 of 4*8*3*3');
  assert.deepEqual(weight(p, 'cb1'), weight(model, 'cb1'));
  assert.deepEqual(
    report.layers.map((l) => [l.name, l.action]),
    [
      ['conv1', 'pruned'],
      ['conv2', 'pruned'],
    ],
  );
  const x = randn(11, 2 * 6 * 64);
  const y = await runModel(p, 'x', x, [2, 6, 8, 8]);
  assert.equal(y.length, 2 * 4 * 64);
  assert.ok(y.every(Number.isFinite));
  assert.notDeepEqual(y, await runModel(model, 'x', x, [2, 6, 8, 8]), 'pruning changed the function');
});

test('include / exclude by node name or op type; skipped layers keep their weights and say why', () => {
  const model = mlp();
  const inc = pruneMagnitude(model, opts({ include: ['fc1'] }));
  assert.equal(zerosOf(weight(inc.model, 'w1')), 1024);
  assert.deepEqual(weight(inc.model, 'w2'), weight(model, 'w2'));
  assert.deepEqual(inc.report.layers[1], { name: 'fc2', opType: 'Gemm', action: 'skipped', reason: 'not listed in include' });
  assert.equal(inc.report.sparsity, 0.5, 'whole-model sparsity counts only the pruned layers');

  const exc = pruneMagnitude(model, opts({ exclude: ['Gemm'] }));
  assert.deepEqual(weight(exc.model, 'w2'), weight(model, 'w2'));
  assert.match(exc.report.layers[1]!.reason!, /excluded \('Gemm' is in exclude\)/);
});

test('bad input: unknown include/exclude names, sparsity outside [0, 1)', () => {
  const model = mlp();
  assert.throws(
    () => pruneMagnitude(model, opts({ include: ['fc9'] })),
    (e: unknown) =>
      e instanceof ShrinkError &&
      e.code === 'INVALID_ARGUMENT' &&
      /include: no node or op type named 'fc9'.*'MatMul'.*'fc1'/.test(e.message),
  );
  assert.throws(() => pruneMagnitude(model, opts({ exclude: ['Softmax'] })), /exclude: no node or op type named 'Softmax'/);
  for (const sparsity of [1, -0.1, Number.NaN]) {
    assert.throws(
      () => pruneMagnitude(model, { ...opts(), sparsity }),
      (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT' && /sparsity must be in \[0, 1\)/.test(e.message),
    );
  }
});

test('weights that are graph inputs or not float32 are skipped with the reason; a shared weight is pruned once', () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'w'], ['a'], {}, { name: 'm1' }),
        makeNode('MatMul', ['a', 'w'], ['b'], {}, { name: 'm2' }),
        makeNode('MatMul', ['b', 'v'], ['c'], {}, { name: 'm3' }),
        makeNode('MatMul', ['c', 'd'], ['y'], {}, { name: 'm4' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 4]), makeValueInfo('v', 'float32', [4, 4])],
      outputs: [makeValueInfo('y', 'float32', [1, 4])],
      initializers: [makeTensor('w', 'float32', [4, 4], randn(1, 16)), makeTensor('d', 'float64', [4, 4], Float64Array.from(randn(2, 16)))],
    }),
  );
  const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0.5 }));
  assert.equal(zerosOf(weight(p, 'w')), 8);
  assert.deepEqual(
    report.layers.map((l) => [l.name, l.action, l.reason]),
    [
      ['m1', 'pruned', undefined],
      ['m2', 'skipped', "weight 'w' is shared with 'm1', pruned there"],
      ['m3', 'skipped', "weight 'v' is a graph input (it can change at run time)"],
      ['m4', 'skipped', "weight 'd' is float64; only float32 and float16 weights are pruned"],
    ],
  );
});

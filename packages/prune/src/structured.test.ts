import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  countMacs,
  countParams,
  encodeModel,
  Graph,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  ShrinkError,
  type onnx,
} from '@shrink/core';
import { pruneStructured } from './structured.js';
import { randn, runModel } from './unstructured.fixture.js';

/** Zeroes the weights (along `axis`) and bias entries of the listed units, so they contribute nothing. */
function killUnits(w: Float32Array, dims: number[], axis: number, units: readonly number[]): Float32Array {
  const out = Float32Array.from(w);
  const inner = dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  const n = dims[axis]!;
  for (let i = 0; i < out.length; i++) if (units.includes(Math.floor(i / inner) % n)) out[i] = 0;
  return out;
}

const EVEN = Array.from({ length: 16 }, (_, i) => 2 * i);

/** x[B,16] -> 32 -> 32 -> y[B,4]; MatMul+Add+Relu or Gemm(transB=1)+Relu; `dead` zeroes the even hidden units. */
function mlp(kind: 'matmul' | 'gemm', dead = false): onnx.ModelProto {
  const sizes: [number, number][] = [
    [16, 32],
    [32, 32],
    [32, 4],
  ];
  const nodes: onnx.NodeProto[] = [];
  const inits: onnx.TensorProto[] = [];
  let x = 'x';
  sizes.forEach(([k, n], i) => {
    const l = i + 1;
    const last = l === sizes.length;
    const out = last ? 'y' : `h${l}`;
    const wDims = kind === 'gemm' ? [n, k] : [k, n];
    let w = randn(10 + l, k * n, 0.5);
    let b = randn(20 + l, n, 0.1);
    if (dead && !last) {
      w = killUnits(w, wDims, kind === 'gemm' ? 0 : 1, EVEN);
      b = killUnits(b, [n], 0, EVEN);
    }
    inits.push(makeTensor(`w${l}`, 'float32', wDims, w), makeTensor(`b${l}`, 'float32', [n], b));
    const pre = last ? out : `p${l}`;
    if (kind === 'gemm') {
      nodes.push(makeNode('Gemm', [x, `w${l}`, `b${l}`], [pre], { transB: 1 }, { name: `fc${l}` }));
    } else {
      nodes.push(makeNode('MatMul', [x, `w${l}`], [`m${l}`], {}, { name: `fc${l}` }));
      nodes.push(makeNode('Add', [`m${l}`, `b${l}`], [pre], {}, { name: `fc${l}_bias` }));
    }
    if (!last) nodes.push(makeNode('Relu', [pre], [out], {}, { name: `act${l}` }));
    x = out;
  });
  const hidden = ['h1', 'p1', 'm1', 'h2', 'p2', 'm2'].map((v) => makeValueInfo(v, 'float32', ['batch', 32]));
  return makeModel(
    makeGraph({
      nodes,
      inputs: [makeValueInfo('x', 'float32', ['batch', 16])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 4])],
      initializers: inits,
      valueInfo: kind === 'gemm' ? hidden.filter((v) => !v.name.startsWith('m')) : hidden,
    }),
  );
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

for (const kind of ['matmul', 'gemm'] as const) {
  test(`structured ${kind} MLP 16->32->32->4 at 50%: 16 units removed per hidden layer, consistent shapes, runs in onnxruntime`, async () => {
    const model = mlp(kind);
    const bytes = encodeModel(model);
    const { model: out, report } = pruneStructured(model, { sparsity: 0.5 });
    assert.deepEqual(encodeModel(model), bytes, 'input model not mutated');
    const byName = new Map(report.layers.map((l) => [l.name, l]));
    for (const name of ['fc1', 'fc2']) {
      const l = byName.get(name)!;
      assert.equal(l.action, 'pruned', `${name}: ${l.reason}`);
      assert.equal(l.unitsRemoved, 16);
      assert.equal(l.unitsKept, 16);
    }
    assert.equal(byName.get('fc3')!.action, 'skipped');
    assert.match(byName.get('fc3')!.reason ?? '', /graph output/);
    assert.deepEqual([byName.get('fc1')!.elementsBefore, byName.get('fc1')!.elementsAfter], [512, 256]);
    assert.deepEqual([byName.get('fc2')!.elementsBefore, byName.get('fc2')!.elementsAfter], [1024, 256]);
    assert.deepEqual([byName.get('fc3')!.elementsBefore, byName.get('fc3')!.elementsAfter], [128, 64]);
    const g = Graph.from(out);
    const t = kind === 'gemm';
    assert.deepEqual(g.shapeOf('w1'), t ? [16, 16] : [16, 16]);
    assert.deepEqual(g.shapeOf('w2'), [16, 16]);
    assert.deepEqual(g.shapeOf('w3'), t ? [4, 16] : [16, 4]);
    assert.deepEqual(g.shapeOf('b1'), [16]);
    assert.deepEqual(g.shapeOf('b3'), [4]);
    for (const v of ['h1', 'p1', 'h2', 'p2']) assert.deepEqual(g.shapeOf(v), ['batch', 16], `value_info of ${v}`);
    assert.deepEqual(g.shapeOf('y'), ['batch', 4]);
    // weights 512+1024+128, biases 32+32+4; after: 256+256+64, 16+16+4
    assert.equal(countParams(model).params, 1732);
    assert.equal(countParams(out).params, 612);
    assert.equal(countMacs(model).total, 1664);
    assert.equal(countMacs(out).total, 576);
    assert.ok(
      report.notes.some((n) => n.includes('MACs 1664 -> 576')),
      report.notes.join('; '),
    );
    const y = await runModel(out, 'x', randn(99, 3 * 16), [3, 16]);
    assert.equal(y.length, 12);
    assert.ok(y.every(Number.isFinite));
  });

  test(`structured ${kind}: all-zero units go first, so pruning them leaves the outputs identical (max abs diff 0)`, async () => {
    const model = mlp(kind, true);
    const { model: out, report } = pruneStructured(model, { sparsity: 0.5, norm: 'l2' });
    assert.deepEqual(
      report.layers.map((l) => l.unitsRemoved ?? 0),
      [16, 16, 0],
    );
    const g = Graph.from(out);
    // the kept units are the odd ones, in order
    const w1 = Graph.from(model).readInitializer('b1').data as Float32Array;
    assert.deepEqual(
      Array.from(g.readInitializer('b1').data as Float32Array),
      Array.from(w1).filter((_, i) => i % 2 === 1),
    );
    const x = randn(7, 5 * 16);
    const [a, b] = [await runModel(model, 'x', x, [5, 16]), await runModel(out, 'x', x, [5, 16])];
    assert.equal(maxAbsDiff(a, b), 0);
  });
}

test('structured: the lowest-norm units are removed (l1), ties to the lower index', () => {
  const model = mlp('matmul');
  const { model: out } = pruneStructured(model, { sparsity: 0.25 });
  const w = Graph.from(model).readInitializer('w1').data as Float32Array;
  const norms = Array.from({ length: 32 }, (_, j) =>
    Array.from({ length: 16 }, (_, k) => Math.abs(w[k * 32 + j]!)).reduce((s, v) => s + v, 0),
  );
  const keep = norms
    .map((_, j) => j)
    .sort((a, b) => norms[a]! - norms[b]!)
    .slice(8)
    .sort((a, b) => a - b);
  const b1 = Graph.from(model).readInitializer('b1').data as Float32Array;
  assert.deepEqual(
    Array.from(Graph.from(out).readInitializer('b1').data as Float32Array),
    keep.map((j) => b1[j]!),
  );
});

/**
 * x[1,3,8,8] -> conv1 [8,3,3,3] -> BN -> Relu -> MaxPool 2 -> conv2 [6,8,3,3] -> Relu -> Flatten -> Gemm [10, 6*4*4] -> y[1,10].
 * `dead` zeroes channels 0,2,4,6 of conv1 (BN beta and mean 0 keep them 0) and 1,3,5 of conv2.
 */
function convNet(dead = false): onnx.ModelProto {
  const conv = { pads: [1, 1, 1, 1], kernel_shape: [3, 3] };
  let w1 = randn(31, 8 * 27, 0.3);
  let b1 = randn(32, 8, 0.1);
  let beta = randn(33, 8, 0.1);
  let mean = randn(34, 8, 0.1);
  let w2 = randn(35, 6 * 72, 0.3);
  let b2 = randn(36, 6, 0.1);
  if (dead) {
    const d1 = [0, 2, 4, 6];
    [w1, b1, beta, mean] = [
      killUnits(w1, [8, 27], 0, d1),
      killUnits(b1, [8], 0, d1),
      killUnits(beta, [8], 0, d1),
      killUnits(mean, [8], 0, d1),
    ];
    [w2, b2] = [killUnits(w2, [6, 72], 0, [1, 3, 5]), killUnits(b2, [6], 0, [1, 3, 5])];
  }
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'cw1', 'cb1'], ['c1'], conv, { name: 'conv1' }),
        makeNode('BatchNormalization', ['c1', 'scale', 'beta', 'mean', 'var'], ['n1'], {}, { name: 'bn1' }),
        makeNode('Relu', ['n1'], ['r1'], {}, { name: 'act1' }),
        makeNode('MaxPool', ['r1'], ['q1'], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'pool1' }),
        makeNode('Conv', ['q1', 'cw2', 'cb2'], ['c2'], conv, { name: 'conv2' }),
        makeNode('Relu', ['c2'], ['r2'], {}, { name: 'act2' }),
        makeNode('Flatten', ['r2'], ['f'], {}, { name: 'flat' }),
        makeNode('Gemm', ['f', 'dw', 'db'], ['y'], { transB: 1 }, { name: 'dense' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 3, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', [1, 10])],
      initializers: [
        makeTensor('cw1', 'float32', [8, 3, 3, 3], w1),
        makeTensor('cb1', 'float32', [8], b1),
        makeTensor(
          'scale',
          'float32',
          [8],
          randn(37, 8, 0.2).map((v) => 1 + v),
        ),
        makeTensor('beta', 'float32', [8], beta),
        makeTensor('mean', 'float32', [8], mean),
        makeTensor(
          'var',
          'float32',
          [8],
          randn(38, 8, 0.2).map((v) => 1 + Math.abs(v)),
        ),
        makeTensor('cw2', 'float32', [6, 8, 3, 3], w2),
        makeTensor('cb2', 'float32', [6], b2),
        makeTensor('dw', 'float32', [10, 96], randn(39, 960, 0.2)),
        makeTensor('db', 'float32', [10], randn(40, 10, 0.1)),
      ],
      valueInfo: [makeValueInfo('c1', 'float32', [1, 8, 8, 8]), makeValueInfo('f', 'float32', [1, 96])],
    }),
  );
}

test('structured Conv->BN->Relu->MaxPool->Conv->Relu->Flatten->Gemm at 50%: channels and dense row blocks removed, runs in onnxruntime', async () => {
  const model = convNet();
  const bytes = encodeModel(model);
  const { model: out, report } = pruneStructured(model, { sparsity: 0.5 });
  assert.deepEqual(encodeModel(model), bytes);
  assert.deepEqual(
    report.layers.map((l) => [l.name, l.action, l.unitsRemoved]),
    [
      ['conv1', 'pruned', 4],
      ['conv2', 'pruned', 3],
      ['dense', 'skipped', undefined],
    ],
  );
  const g = Graph.from(out);
  assert.deepEqual(g.shapeOf('cw1'), [4, 3, 3, 3]);
  for (const p of ['cb1', 'scale', 'beta', 'mean', 'var']) assert.deepEqual(g.shapeOf(p), [4], p);
  assert.deepEqual(g.shapeOf('cw2'), [3, 4, 3, 3]);
  assert.deepEqual(g.shapeOf('dw'), [10, 48]);
  assert.deepEqual(g.shapeOf('c1'), [1, 4, 8, 8]);
  assert.deepEqual(g.shapeOf('f'), [1, 48]);
  assert.ok(countMacs(out).total < countMacs(model).total);
  const y = await runModel(out, 'x', randn(41, 192), [1, 3, 8, 8]);
  assert.equal(y.length, 10);
  assert.ok(y.every(Number.isFinite));
});

test('structured conv net: zero channels removed through BN, MaxPool and the Flatten row blocks leave the outputs equal (1e-6)', async () => {
  const model = convNet(true);
  const { model: out, report } = pruneStructured(model, { sparsity: 0.5 });
  assert.deepEqual(
    report.layers.map((l) => l.unitsRemoved ?? 0),
    [4, 3, 0],
  );
  const x = randn(42, 192);
  const [a, b] = [await runModel(model, 'x', x, [1, 3, 8, 8]), await runModel(out, 'x', x, [1, 3, 8, 8])];
  // Conv kernels may sum in another order once the channel count changes.
  assert.ok(maxAbsDiff(a, b) <= 1e-6, `max abs diff ${maxAbsDiff(a, b)}`);
});

test('structured: a residual Add, a depthwise Conv, a branch and an unknown reader are skipped with reasons, the model untouched', () => {
  const residual = makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'w1'], ['m'], {}, { name: 'fc1' }),
        makeNode('Relu', ['m'], ['h'], {}, { name: 'act' }),
        makeNode('Add', ['h', 'x'], ['s'], {}, { name: 'skip_add' }),
        makeNode('MatMul', ['s', 'w2'], ['y'], {}, { name: 'fc2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 16])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 4])],
      initializers: [makeTensor('w1', 'float32', [16, 16], randn(50, 256)), makeTensor('w2', 'float32', [16, 4], randn(51, 64))],
    }),
  );
  const r = pruneStructured(residual, { sparsity: 0.5 });
  assert.equal(r.report.layers[0]!.action, 'skipped');
  assert.match(r.report.layers[0]!.reason ?? '', /Add 'skip_add'.*residual/);
  assert.deepEqual(encodeModel(r.model), encodeModel(residual));

  const depthwise = makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'dw'], ['c'], { group: 4, kernel_shape: [3, 3] }, { name: 'dwconv' }),
        makeNode('Conv', ['c', 'pw'], ['y'], { kernel_shape: [1, 1] }, { name: 'pwconv' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 4, 6, 6])],
      outputs: [makeValueInfo('y', 'float32', [1, 2, 4, 4])],
      initializers: [makeTensor('dw', 'float32', [4, 1, 3, 3], randn(52, 36)), makeTensor('pw', 'float32', [2, 4, 1, 1], randn(53, 8))],
    }),
  );
  const d = pruneStructured(depthwise, { sparsity: 0.5 });
  assert.match(d.report.layers[0]!.reason ?? '', /group=4/);
  assert.deepEqual(encodeModel(d.model), encodeModel(depthwise));

  const branch = (second: onnx.NodeProto): onnx.ModelProto =>
    makeModel(
      makeGraph({
        nodes: [
          makeNode('MatMul', ['x', 'w1'], ['h'], {}, { name: 'fc1' }),
          makeNode('MatMul', ['h', 'w2'], ['y'], {}, { name: 'fc2' }),
          second,
        ],
        inputs: [makeValueInfo('x', 'float32', ['batch', 16])],
        outputs: [makeValueInfo('y', 'float32', ['batch', 4]), makeValueInfo('z', 'float32', ['batch', 16])],
        initializers: [makeTensor('w1', 'float32', [16, 16], randn(54, 256)), makeTensor('w2', 'float32', [16, 4], randn(55, 64))],
      }),
    );
  const two = pruneStructured(branch(makeNode('Softmax', ['h'], ['z'], {}, { name: 'sm' })), { sparsity: 0.5 });
  assert.match(two.report.layers[0]!.reason ?? '', /'h' feeds 2 nodes/);
  assert.deepEqual(two.report.unhandled, { Softmax: 1 });
  const m = makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'w1'], ['h'], {}, { name: 'fc1' }), makeNode('Softmax', ['h'], ['y'], {}, { name: 'sm' })],
      inputs: [makeValueInfo('x', 'float32', ['batch', 16])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 16])],
      initializers: [makeTensor('w1', 'float32', [16, 16], randn(54, 256))],
    }),
  );
  assert.match(pruneStructured(m, { sparsity: 0.5 }).report.layers[0]!.reason ?? '', /Softmax 'sm'.*does not follow/);
});

test('structured: include/exclude pick the layers; bad options are one ShrinkError', () => {
  const model = mlp('gemm');
  const { report } = pruneStructured(model, { sparsity: 0.5, exclude: ['fc1'] });
  assert.deepEqual(
    report.layers.map((l) => l.action),
    ['skipped', 'pruned', 'skipped'],
  );
  assert.match(report.layers[0]!.reason ?? '', /exclude/);
  assert.throws(() => pruneStructured(model, { sparsity: 1 }), ShrinkError);
  assert.throws(
    () => pruneStructured(model, { include: ['nope'] }),
    (e: unknown) => e instanceof ShrinkError && /nope/.test(e.message),
  );
});

test('a graph whose chain loops back on itself (a broken model) is skipped with a reason, not followed forever (found by fuzzing)', () => {
  const w = makeTensor(
    'w',
    'float32',
    [4, 4],
    Float32Array.from({ length: 16 }, (_, i) => i - 8),
  );
  // fc -> relu -> fc's own output name again: 'h' is produced twice, the chain h -> r -> h never ends.
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'w'], ['h'], {}, { name: 'fc' }),
        makeNode('Relu', ['h'], ['r'], {}, { name: 'relu' }),
        makeNode('Relu', ['r'], ['h'], {}, { name: 'again' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 4])],
      outputs: [makeValueInfo('y', 'float32', [1, 4])],
      initializers: [w],
    }),
  );
  const t0 = performance.now();
  let outcome: string;
  try {
    const r = pruneStructured(model, { method: 'structured', sparsity: 0.5, scope: 'layer', norm: 'l1', n: 2, m: 4, pruneBias: false });
    outcome = r.report.layers.map((l) => `${l.action}: ${l.reason ?? ''}`).join('; ');
  } catch (e) {
    assert.ok(e instanceof ShrinkError, String(e));
    outcome = e.message;
  }
  assert.ok(performance.now() - t0 < 2000);
  assert.match(outcome, /cycle|reached again|feeds 2 nodes/);
});

test('structured: unnamed layers are labelled by the value they write, in rows and in skip reasons', () => {
  const model = mlp('gemm');
  for (const n of model.graph!.node!) n.name = '';
  const { report } = pruneStructured(model, { sparsity: 0.5 });
  assert.deepEqual(
    report.layers.map((l) => [l.name, l.opType, l.action]),
    [
      ['p1', 'Gemm', 'pruned'],
      ['p2', 'Gemm', 'pruned'],
      ['y', 'Gemm', 'skipped'],
    ],
  );
  assert.match(report.layers[2]!.reason!, /'y' is a graph output/);
  const branched = mlp('matmul');
  const g = Graph.from(branched);
  g.addNode(makeNode('Identity', ['m1'], ['m1_copy']));
  const skipped = pruneStructured(g.toModel(), { sparsity: 0.5 }).report.layers[0]!;
  assert.match(skipped.reason!, /feeds 2 nodes \(Add 'fc1_bias', Identity 'm1_copy'\)/);
});

test("structured: q8's weight-only Conv (int8 codes -> Cast -> Mul -> Conv) is skipped saying to prune before quantizing", () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Cast', ['w_q'], ['w_codes'], { to: 1 }, { name: 'conv1_weight_cast' }),
        makeNode('Mul', ['w_codes', 'w_scale'], ['w'], {}, { name: 'conv1_weight_scale' }),
        makeNode('Conv', ['x', 'w'], ['h'], { kernel_shape: [1, 1] }, { name: 'conv1' }),
        makeNode('Relu', ['h'], ['a'], {}, { name: 'relu' }),
        makeNode('Conv', ['a', 'w2'], ['y'], { kernel_shape: [1, 1] }, { name: 'conv2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 3, 4, 4])],
      outputs: [makeValueInfo('y', 'float32', [1, 2, 4, 4])],
      initializers: [
        makeTensor(
          'w_q',
          'int8',
          [4, 3, 1, 1],
          Int8Array.from({ length: 12 }, (_, i) => i - 6),
        ),
        makeTensor('w_scale', 'float32', [4, 1, 1, 1], [0.1, 0.2, 0.3, 0.4]),
        makeTensor('w2', 'float32', [2, 4, 1, 1], randn(3, 8)),
      ],
    }),
    { opset: 17 },
  );
  const { report } = pruneStructured(model, { sparsity: 0.5 });
  const conv1 = report.layers.find((l) => l.name === 'conv1')!;
  assert.equal(conv1.action, 'skipped');
  assert.match(
    conv1.reason ?? '',
    /weight 'w' is dequantized from 8-bit codes \(a quantized model\); prune structurally before quantizing/,
  );
});

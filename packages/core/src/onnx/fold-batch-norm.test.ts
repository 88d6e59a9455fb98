// BatchNormalization folded into the Conv before it: each model runs before and after in onnxruntime
// (graph optimizations off, so its own Conv+BN fusion does not hide a wrong fold) and every output must
// agree within 1e-5 of the output's scale; the cases that must not fold keep their BN and say why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../data/rng.js';
import { parseNpz } from '../data/npy.js';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from './builder.js';
import { decodeModel, encodeModel } from './codec.js';
import { foldBatchNorms } from './fold-batch-norm.js';
import { onnx } from './proto.js';
import { float16ToFloat32, makeTensor, readTensor, toFloat32 } from './tensor.js';

type Feeds = Record<string, { dtype: 'float32' | 'bool'; dims: number[]; data: Float32Array | Uint8Array }>;

async function run(model: onnx.IModelProto, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(encodeModel(model), { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  try {
    const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor(v.dtype, v.data, v.dims)])));
    return Object.fromEntries(
      Object.entries(out).map(([k, t]) => [
        k,
        t.type === 'float16' ? float16ToFloat32(t.data as Uint16Array) : Float32Array.from(t.data as Float32Array),
      ]),
    );
  } finally {
    await session.release();
  }
}

/** Every output of `after` within `tol` x the largest magnitude of the same output of `before`; the worst ratio. */
async function assertSameOutputs(before: onnx.IModelProto, after: onnx.IModelProto, feeds: Feeds, tol: number): Promise<number> {
  const [a, b] = [await run(before, feeds), await run(after, feeds)];
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  let worst = 0;
  for (const [name, want] of Object.entries(a)) {
    const got = b[name]!;
    assert.equal(got.length, want.length, `${name}: length`);
    const scale = Math.max(...Array.from(want, Math.abs), 1e-30);
    let err = 0;
    for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
    assert.ok(err <= tol * scale, `${name}: max abs error ${err.toExponential(2)} > ${tol} x scale ${scale.toExponential(2)}`);
    worst = Math.max(worst, err / scale);
  }
  return worst;
}

const rand = (seed: number) => {
  const next = mulberry32(seed);
  return (n: number, lo = -1, hi = 1) => Array.from({ length: n }, () => lo + (hi - lo) * next());
};

interface ConvBn {
  cin?: number;
  cout?: number;
  group?: number;
  bias?: boolean;
  transpose?: boolean;
  opset?: number;
  /** Weights and BN parameters in Constant nodes (as paddle2onnx writes them) instead of initializers. */
  constants?: boolean;
  /** Extra BN attributes (spatial, is_test, training_mode). */
  bnAttrs?: Record<string, number>;
  /** Extra nodes, outputs and initializers (for the cases that must not fold). */
  nodes?: onnx.NodeProto[];
  outputs?: string[];
  initializers?: onnx.TensorProto[];
}

/** x -> Conv (or ConvTranspose) -> BatchNormalization -> Relu -> y, seeded values; the conv writes 'c', the BN 'bn'. */
function convBn(o: ConvBn = {}): onnx.ModelProto {
  const r = rand(7);
  const [cin, cout, group] = [o.cin ?? 4, o.cout ?? 6, o.group ?? 1];
  const wDims = o.transpose ? [cin, cout / group, 3, 3] : [cout, cin / group, 3, 3];
  const tensors = [
    makeTensor('W', 'float32', wDims, r(wDims.reduce((a, b) => a * b))),
    ...(o.bias ? [makeTensor('B', 'float32', [cout], r(cout))] : []),
    makeTensor('gamma', 'float32', [cout], r(cout, 0.5, 2)),
    makeTensor('beta', 'float32', [cout], r(cout)),
    makeTensor('mean', 'float32', [cout], r(cout)),
    makeTensor('var', 'float32', [cout], r(cout, 0.1, 3)),
  ];
  const convAttrs = o.transpose ? { group, strides: [2, 2], pads: [1, 1, 1, 1] } : { group, pads: [1, 1, 1, 1] };
  const nodes = [
    ...(o.constants ? tensors.map((t) => makeNode('Constant', [], [t.name], { value: attr.tensor(t) })) : []),
    makeNode(o.transpose ? 'ConvTranspose' : 'Conv', ['x', 'W', ...(o.bias ? ['B'] : [])], ['c'], convAttrs, { name: 'conv' }),
    makeNode(
      'BatchNormalization',
      ['c', 'gamma', 'beta', 'mean', 'var'],
      ['bn'],
      { epsilon: attr.float(1e-3), ...o.bnAttrs },
      { name: 'bn' },
    ),
    makeNode('Relu', ['bn'], ['y']),
    ...(o.nodes ?? []),
  ];
  return makeModel(
    makeGraph({
      nodes,
      inputs: [makeValueInfo('x', 'float32', [1, cin, 5, 5])],
      outputs: ['y', ...(o.outputs ?? [])].map((n) => makeValueInfo(n, 'float32')),
      initializers: [...(o.constants ? [] : tensors), ...(o.initializers ?? [])],
    }),
    { opset: o.opset ?? 17 },
  );
}

const xFeed = (cin = 4): Feeds => ({ x: { dtype: 'float32', dims: [1, cin, 5, 5], data: Float32Array.from(rand(3)(cin * 25)) } });
const ops = (m: onnx.IModelProto) => (m.graph!.node ?? []).map((n) => n.opType);

test('Conv with bias: folded into new weight and bias, the Conv writes the BN output, outputs within 1e-5, input untouched', async () => {
  const model = convBn({ bias: true });
  const bytes = encodeModel(model);
  const r = foldBatchNorms(model);
  assert.deepEqual(Buffer.from(encodeModel(model)), Buffer.from(bytes), 'the input model is not mutated');
  assert.equal(r.folded, 1);
  assert.deepEqual(r.foldedNodes, [{ batchNorm: 'bn', conv: 'conv', where: '' }]);
  assert.deepEqual(ops(r.model), ['Conv', 'Relu']);
  const conv = r.model.graph!.node![0]!;
  assert.deepEqual(conv.output, ['bn']);
  assert.deepEqual(conv.input, ['x', 'W_bnfold', 'B_bnfold_bias']);
  // The old weight, bias and BN vectors went: nothing reads them.
  assert.deepEqual(r.model.graph!.initializer!.map((t) => t.name).sort(), ['B_bnfold_bias', 'W_bnfold']);
  await assertSameOutputs(model, r.model, xFeed(), 1e-5);
});

test('Conv without bias: a bias is added; the BN output as a graph output keeps its name', async () => {
  const model = convBn({ outputs: ['bn'] });
  const r = foldBatchNorms(model);
  assert.equal(r.folded, 1);
  assert.deepEqual(r.model.graph!.node![0]!.input, ['x', 'W_bnfold', 'W_bnfold_bias']);
  assert.deepEqual(
    r.model.graph!.output!.map((o) => o.name),
    ['y', 'bn'],
  );
  await assertSameOutputs(model, r.model, xFeed(), 1e-5);
});

test('depthwise Conv (group = channels) and ConvTranspose with 2 groups fold per output channel', async () => {
  const depthwise = convBn({ cin: 6, cout: 6, group: 6, bias: true });
  const d = foldBatchNorms(depthwise);
  assert.equal(d.folded, 1);
  await assertSameOutputs(depthwise, d.model, xFeed(6), 1e-5);
  // ConvTranspose weight is [Cin, Cout/group, k, k]: the output channel is along axis 1, per group.
  const transposed = convBn({ cin: 4, cout: 6, group: 2, bias: true, transpose: true });
  const t = foldBatchNorms(transposed);
  assert.equal(t.folded, 1);
  assert.deepEqual(ops(t.model), ['ConvTranspose', 'Relu']);
  await assertSameOutputs(transposed, t.model, xFeed(4), 1e-5);
});

test('opset 9 and 7 (spatial = 1) with weights in Constant nodes fold and drop the Constant nodes; spatial = 0 stays', async () => {
  for (const [opset, bnAttrs] of [
    [9, {}],
    [7, { spatial: 1 }],
  ] as const) {
    const model = convBn({ bias: true, constants: true, opset, bnAttrs });
    const r = foldBatchNorms(model);
    assert.equal(r.folded, 1, `opset ${opset}`);
    assert.deepEqual(ops(r.model), ['Conv', 'Relu'], `opset ${opset}: the six Constant nodes are gone`);
    await assertSameOutputs(model, r.model, xFeed(), 1e-5);
  }
  const perElement = foldBatchNorms(convBn({ opset: 7, bnAttrs: { spatial: 0 } }));
  assert.equal(perElement.folded, 0);
  assert.deepEqual(perElement.kept, [{ batchNorm: 'bn', reason: 'spatial is 0 (per-element statistics)', where: '' }]);
  const training = foldBatchNorms(convBn({ opset: 15, bnAttrs: { training_mode: 1 } }));
  assert.deepEqual(
    training.kept.map((k) => k.reason),
    ['training_mode is 1'],
  );
});

test('not folded: the Conv output read twice, the Conv output a graph output, a weight another Conv reads; outputs unchanged', async () => {
  const cases: [string, ConvBn, RegExp][] = [
    ['read twice', { nodes: [makeNode('Sigmoid', ['c'], ['s'])], outputs: ['s'] }, /the Conv's output 'c' is read by 2 nodes/],
    ['graph output', { outputs: ['c'] }, /the Conv's output 'c' is also a graph output/],
    [
      'shared weight',
      { nodes: [makeNode('Conv', ['x', 'W'], ['c2'], { pads: [1, 1, 1, 1] })], outputs: ['c2'] },
      /the Conv's weight 'W' is read by other nodes too/,
    ],
  ];
  for (const [what, o, reason] of cases) {
    const model = convBn(o);
    const r = foldBatchNorms(model);
    assert.equal(r.folded, 0, what);
    assert.equal(r.kept.length, 1, what);
    assert.match(r.kept[0]!.reason, reason, what);
    assert.deepEqual(ops(r.model), ops(model), what);
    assert.equal(await assertSameOutputs(model, r.model, xFeed(), 0), 0, `${what}: bit-identical outputs`);
  }
  // The BN's own output read twice is no obstacle: its readers read the Conv's output under the same name.
  const twice = convBn({ nodes: [makeNode('Sigmoid', ['bn'], ['s'])], outputs: ['s'] });
  const r = foldBatchNorms(twice);
  assert.equal(r.folded, 1);
  await assertSameOutputs(twice, r.model, xFeed(), 1e-5);
});

test('float16 weights fold in float16; a BN after a non-Conv stays, saying what writes its input', () => {
  const m = convBn({ bias: true });
  for (const t of m.graph!.initializer!)
    Object.assign(t, makeTensor(t.name ?? '', 'float16', readTensor(t).dims, Array.from(toFloat32(readTensor(t)))));
  const r = foldBatchNorms(m);
  assert.equal(r.folded, 1);
  const w = r.model.graph!.initializer!.find((t) => t.name === 'W_bnfold')!;
  assert.equal(readTensor(w).dtype, 'float16');
  const f32 = foldBatchNorms(convBn({ bias: true })).model.graph!.initializer!.find((t) => t.name === 'W_bnfold')!;
  const [a, b] = [toFloat32(readTensor(w)), toFloat32(readTensor(f32))];
  // The float16 inputs were rounded once and the result once more: within a few half-precision ulps.
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs(a[i]! - b[i]!) <= 4e-3 * Math.max(1, Math.abs(b[i]!)), `W[${i}]: ${a[i]} vs ${b[i]}`);
  const afterAdd = makeModel(
    makeGraph({
      nodes: [
        makeNode('Add', ['x', 'x'], ['a'], {}, { name: 'add' }),
        makeNode('BatchNormalization', ['a', 'g', 'g', 'z', 'g'], ['y'], {}, { name: 'bn' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 2, 2, 2])],
      outputs: [makeValueInfo('y', 'float32')],
      initializers: [makeTensor('g', 'float32', [2], [1, 1]), makeTensor('z', 'float32', [2], [0, 0])],
    }),
  );
  assert.deepEqual(foldBatchNorms(afterAdd).kept, [
    { batchNorm: 'bn', reason: 'its input is written by add (Add), not a Conv', where: '' },
  ]);
});

test('inside an If branch: the body folds and says where', async () => {
  const inner = convBn({ bias: true }).graph!;
  const branch = makeGraph({
    name: 'then',
    nodes: inner.node!,
    inputs: [],
    outputs: [makeValueInfo('y', 'float32')],
    initializers: inner.initializer!,
  });
  const other = makeGraph({
    name: 'else',
    nodes: [makeNode('Relu', ['x'], ['y2'])],
    inputs: [],
    outputs: [makeValueInfo('y2', 'float32')],
  });
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('If', ['flag'], ['out'], { then_branch: attr.graph(branch), else_branch: attr.graph(other) }, { name: 'if' })],
      inputs: [makeValueInfo('x', 'float32', [1, 4, 5, 5]), makeValueInfo('flag', 'bool', [])],
      outputs: [makeValueInfo('out', 'float32')],
    }),
  );
  const r = foldBatchNorms(model);
  assert.deepEqual(r.foldedNodes, [{ batchNorm: 'bn', conv: 'conv', where: 'if/then_branch/' }]);
  const body = r.model.graph!.node![0]!.attribute!.find((a) => a.name === 'then_branch')!.g!;
  assert.deepEqual(
    body.node!.map((n) => n.opType),
    ['Conv', 'Relu'],
  );
  const feeds: Feeds = { ...xFeed(), flag: { dtype: 'bool', dims: [], data: Uint8Array.of(1) } };
  await assertSameOutputs(model, r.model, feeds, 1e-5);
});

const CORPUS = fileURLToPath(new URL('../../../../.cache/corpus/ppocr-mobile-v2-cls.onnx', import.meta.url));
const FEEDS = CORPUS.replace(/\.onnx$/, '.feeds.npz');
const corpusSkip =
  existsSync(CORPUS) && existsSync(FEEDS)
    ? false
    : `${CORPUS} or its feeds are missing (node scripts/corpus/inputs.mjs ppocr-mobile-v2-cls)`;

test(
  'PaddleOCR direction classifier (paddle2onnx, opset 9): all 35 BNs fold, 471 -> 261 nodes, outputs within 1e-4',
  { skip: corpusSkip },
  async () => {
    const model = decodeModel(readFileSync(CORPUS));
    const r = foldBatchNorms(model);
    assert.equal(r.folded, 35);
    assert.deepEqual(r.kept, []);
    // Each fold removes the BN and the Constant nodes of the old weight and the four BN vectors.
    assert.equal(model.graph!.node!.length, 471);
    assert.equal(r.model.graph!.node!.length, 261);
    assert.ok(!ops(r.model).includes('BatchNormalization'));
    const feeds: Feeds = {};
    for (const [k, v] of parseNpz(readFileSync(FEEDS), FEEDS))
      if (v.dtype === 'float32') feeds[k.replace(/\.npy$/, '')] = { dtype: v.dtype, dims: v.dims, data: v.data as Float32Array };
    await assertSameOutputs(model, r.model, feeds, 1e-4);
  },
);

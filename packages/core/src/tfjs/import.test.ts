import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { onnx } from '../onnx/proto.js';
import { encodeModel } from '../onnx/codec.js';
import { attr, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { ShrinkError } from '../errors.js';
import { importFromOnnx } from './import.js';
import { exportToOnnx } from './export.js';

await tf.setBackend('cpu');

const TOL = 1e-4;

/** Seeded uniform numbers in [lo, hi) (mulberry32), so failures reproduce. */
function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  });
}

let seed = 100;
const weight = (name: string, dims: number[], lo = -0.5, hi = 0.5): onnx.TensorProto =>
  makeTensor(
    name,
    'float32',
    dims,
    rand(
      dims.reduce((a, b) => a * b, 1),
      seed++,
      lo,
      hi,
    ),
  );
const int64 = (name: string, values: number[]): onnx.TensorProto => makeTensor(name, 'int64', [values.length], values);

async function runOnnx(model: onnx.ModelProto, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
  const y = out[session.outputNames[0]!]!.data as Float32Array;
  await session.release();
  return y;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'output sizes differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Imports `model`, feeds the same data to both (NCHW images transposed to NHWC for tfjs) and compares. */
async function expectImportMatches(model: onnx.ModelProto, dims: number[], inputSeed: number) {
  const x = rand(
    dims.reduce((a, b) => a * b, 1),
    inputSeed,
    -2,
    2,
  );
  const want = await runOnnx(model, x, dims);
  const imported = importFromOnnx(model, tf);
  const xt = tf.tensor(x, dims);
  const fed = imported.report.inputs[0]!.layout === 'nchw' ? tf.transpose(xt, [0, 2, 3, 1]) : xt;
  const got = (imported.model.predict(fed) as tf.Tensor).dataSync();
  const d = maxAbsDiff(got, want);
  assert.ok(d <= TOL, `max |tfjs - onnx| = ${d} > ${TOL}`);
  return imported;
}

function modelOf(
  nodes: onnx.NodeProto[],
  inputs: onnx.ValueInfoProto[],
  output: onnx.ValueInfoProto,
  initializers: onnx.TensorProto[],
  opset = 17,
) {
  return makeModel(makeGraph({ name: 'torch_like', nodes, inputs, outputs: [output], initializers }), { opset });
}

const classNames = (m: tf.LayersModel): string[] => m.layers.map((l) => l.getClassName());

test('PyTorch-style MLP (Gemm transB=1, alpha/beta, MatMul+Add) imports to Dense layers with equal outputs', async () => {
  const model = modelOf(
    [
      makeNode('Gemm', ['x', 'w1', 'b1'], ['h1'], { transB: 1 }, { name: '/fc1/Gemm' }),
      makeNode('Relu', ['h1'], ['a1'], {}, { name: '/act1/Relu' }),
      makeNode('Gemm', ['a1', 'w2', 'b2'], ['h2'], { alpha: attr.float(0.5), beta: attr.float(2) }, { name: '/fc2/Gemm' }),
      makeNode('Tanh', ['h2'], ['a2'], {}, { name: '/act2/Tanh' }),
      makeNode('MatMul', ['a2', 'w3'], ['m3'], {}, { name: '/fc3/MatMul' }),
      makeNode('Add', ['b3', 'm3'], ['h3'], {}, { name: '/fc3/Add' }),
      makeNode('Gemm', ['h3', 'w4'], ['h4'], { transB: 1 }, { name: '/fc4/Gemm' }),
      makeNode('Softmax', ['h4'], ['y'], { axis: 1 }, { name: '/softmax' }),
    ],
    [makeValueInfo('x', 'float32', ['N', 20])],
    makeValueInfo('y', 'float32', ['N', 5]),
    [
      weight('w1', [16, 20]),
      weight('b1', [16]),
      weight('w2', [16, 12]),
      weight('b2', [1, 12]),
      weight('w3', [12, 8]),
      weight('b3', [8]),
      weight('w4', [5, 8]),
    ],
  );
  const { model: m, report } = await expectImportMatches(model, [6, 20], 1);
  assert.deepEqual(classNames(m), ['InputLayer', 'Dense', 'Dense', 'Dense', 'Dense']);
  const relu = report.nodes.find((n) => n.name === '/act1/Relu')!;
  assert.equal(relu.fusedInto, '/fc1/Gemm');
  assert.deepEqual(relu.layers, report.nodes.find((n) => n.name === '/fc1/Gemm')!.layers);
  assert.equal(report.inputs[0]!.layout, 'as-is');
});

test('PyTorch-style NCHW CNN with Flatten imports with NHWC input and no Permute layers', async () => {
  const model = modelOf(
    [
      makeNode('Conv', ['x', 'c1.w', 'c1.b'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: '/conv1/Conv' }),
      makeNode('BatchNormalization', ['c1', 'bn.s', 'bn.b', 'bn.m', 'bn.v'], ['bn'], { epsilon: attr.float(1e-5) }, { name: '/bn/BN' }),
      makeNode('Relu', ['bn'], ['r1'], {}, { name: '/relu1' }),
      makeNode('MaxPool', ['r1'], ['p1'], { kernel_shape: [2, 2], strides: [2, 2] }, { name: '/pool1' }),
      // Symmetric padding with stride 2 is not tfjs 'same': becomes ZeroPadding2D + 'valid'.
      makeNode(
        'Conv',
        ['p1', 'c2.w', 'c2.b'],
        ['c2'],
        { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
        { name: '/conv2/Conv' },
      ),
      makeNode('Clip', ['c2', 'zero', 'six'], ['r2'], {}, { name: '/relu6' }),
      makeNode('AveragePool', ['r2'], ['p2'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 }, { name: '/avgpool' }),
      makeNode('Conv', ['p2', 'c3.w'], ['c3'], { kernel_shape: [2, 2], pads: [0, 0, 1, 1] }, { name: '/conv3/Conv' }),
      makeNode('Flatten', ['c3'], ['f'], { axis: 1 }, { name: '/flatten' }),
      makeNode('Gemm', ['f', 'fc1.w', 'fc1.b'], ['h'], { transB: 1 }, { name: '/fc1/Gemm' }),
      makeNode('LeakyRelu', ['h'], ['hr'], { alpha: attr.float(0.1) }, { name: '/leaky' }),
      makeNode('Dropout', ['hr'], ['hd'], {}, { name: '/dropout' }),
      makeNode('Gemm', ['hd', 'fc2.w', 'fc2.b'], ['y'], { transB: 1 }, { name: '/fc2/Gemm' }),
    ],
    [makeValueInfo('x', 'float32', ['batch', 3, 12, 10])],
    makeValueInfo('y', 'float32', ['batch', 7]),
    [
      weight('c1.w', [6, 3, 3, 3]),
      weight('c1.b', [6]),
      weight('bn.s', [6], 0.5, 1.5),
      weight('bn.b', [6]),
      weight('bn.m', [6]),
      weight('bn.v', [6], 0.5, 2),
      weight('c2.w', [5, 6, 3, 3]),
      weight('c2.b', [5]),
      makeTensor('zero', 'float32', [], [0]),
      makeTensor('six', 'float32', [], [6]),
      weight('c3.w', [4, 5, 2, 2]),
      weight('fc1.w', [9, 4 * 3 * 3]),
      weight('fc1.b', [9]),
      weight('fc2.w', [7, 9]),
      weight('fc2.b', [7]),
    ],
  );
  const { model: m, report } = await expectImportMatches(model, [3, 3, 12, 10], 2);
  assert.deepEqual(report.inputs[0], { name: 'x', layout: 'nchw', tfjsShape: [null, 12, 10, 3] });
  assert.ok(!classNames(m).includes('Permute'), `unexpected Permute in ${classNames(m).join(', ')}`);
  assert.equal(classNames(m).filter((c) => c === 'ZeroPadding2D').length, 2);
});

test('depthwise conv, zero-padded MaxPool after Relu, global pooling and residual Add import with equal outputs', async () => {
  const model = modelOf(
    [
      makeNode('Conv', ['x', 'dw.w', 'dw.b'], ['d'], { kernel_shape: [3, 3], group: 4, auto_pad: 'SAME_UPPER' }, { name: 'dw' }),
      makeNode('Relu', ['d'], ['dr'], {}, { name: 'dw_relu' }),
      makeNode('MaxPool', ['dr'], ['p'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { name: 'pool' }),
      makeNode('Conv', ['p', 'pw.w'], ['q'], { kernel_shape: [1, 1] }, { name: 'pw' }),
      makeNode('Sigmoid', ['q'], ['qs'], {}, { name: 'gate' }),
      makeNode('Add', ['q', 'qs'], ['s'], {}, { name: 'residual' }),
      makeNode('GlobalAveragePool', ['s'], ['g'], {}, { name: 'gap' }),
      makeNode('Reshape', ['g', 'flat'], ['gf'], {}, { name: 'reshape' }),
      makeNode('Gemm', ['gf', 'fc.w', 'fc.b'], ['y'], { transB: 1 }, { name: 'fc' }),
    ],
    [makeValueInfo('x', 'float32', ['N', 4, 9, 9])],
    makeValueInfo('y', 'float32', ['N', 3]),
    [
      weight('dw.w', [8, 1, 3, 3]),
      weight('dw.b', [8]),
      weight('pw.w', [6, 8, 1, 1]),
      int64('flat', [0, -1]),
      weight('fc.w', [3, 6]),
      weight('fc.b', [3]),
    ],
  );
  const { model: m } = await expectImportMatches(model, [2, 4, 9, 9], 3);
  assert.ok(classNames(m).includes('DepthwiseConv2D'));
  assert.ok(classNames(m).includes('GlobalAveragePooling2D'));
});

test('export -> import round trip gives the same outputs as the original tfjs model', async () => {
  const original = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [10, 10, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }),
      tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.2 }),
      tf.layers.dense({ units: 8, activation: 'sigmoid' }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  const bn = original.layers[1]!;
  bn.setWeights(bn.getWeights().map((w, i) => tf.randomUniform(w.shape, 0.5, 1.5, 'float32', 10 + i)));
  const { model: proto } = exportToOnnx(original);
  const { model: back, report } = importFromOnnx(proto, tf);
  assert.equal(report.inputs[0]!.layout, 'as-is');
  assert.ok(!classNames(back).includes('Permute'), `unexpected Permute in ${classNames(back).join(', ')}`);
  const x = tf.randomUniform([4, 10, 10, 2], -2, 2, 'float32', 9);
  const d = maxAbsDiff((back.predict(x) as tf.Tensor).dataSync(), (original.predict(x) as tf.Tensor).dataSync());
  assert.ok(d <= 1e-5, `round trip max diff ${d}`);
  // The Transposes cost no layer: every non-input layer of the original comes back once (Dropout vanished).
  assert.deepEqual(
    classNames(back).filter((c) => c !== 'InputLayer'),
    classNames(original).filter((c) => c !== 'Dropout'),
  );
});

test('round trip of a functional model (depthwise, padding, merges, activations) and of an NCHW-input export', async () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const padded = tf.layers
    .zeroPadding2d({
      padding: [
        [1, 0],
        [0, 2],
      ],
    })
    .apply(input) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, activation: 'relu6' }).apply(padded) as tf.SymbolicTensor;
  const a = tf.layers.conv2d({ filters: 6, kernelSize: 1, activation: 'swish' }).apply(dw) as tf.SymbolicTensor;
  const b = tf.layers.leakyReLU({ alpha: 0.2 }).apply(dw) as tf.SymbolicTensor;
  const sum = tf.layers.add().apply([a, b]) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate().apply([sum, tf.layers.reLU({ maxValue: 1.5 }).apply(a) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const soft = tf.layers.softmax({ axis: -1 }).apply(cat) as tf.SymbolicTensor;
  const pooled = tf.layers.globalMaxPooling2d({}).apply(soft) as tf.SymbolicTensor;
  const d1 = tf.layers.dense({ units: 5, activation: 'mish' }).apply(pooled) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization().apply(d1) as tf.SymbolicTensor;
  const out = tf.layers.activation({ activation: 'selu' }).apply(bn) as tf.SymbolicTensor;
  const original = tf.model({ inputs: input, outputs: out });
  const x = tf.randomUniform([3, 8, 8, 3], -2, 2, 'float32', 11);
  const want = (original.predict(x) as tf.Tensor).dataSync();
  for (const inputLayout of ['nhwc', 'nchw'] as const) {
    const { model: back, report } = importFromOnnx(exportToOnnx(original, { inputLayout }).model, tf);
    // Either way the imported model takes the NHWC tensors the original takes.
    assert.equal(report.inputs[0]!.layout, inputLayout === 'nchw' ? 'nchw' : 'as-is');
    const d = maxAbsDiff((back.predict(x) as tf.Tensor).dataSync(), want);
    assert.ok(d <= 1e-5, `${inputLayout}: round trip max diff ${d}`);
  }
});

test('unsupported nodes are refused naming the node, its op type and the supported ops', () => {
  const model = modelOf(
    [makeNode('Gemm', ['x', 'w'], ['h'], { transB: 1 }, { name: 'fc' }), makeNode('Sin', ['h'], ['y'], {}, { name: 'weird_sin' })],
    [makeValueInfo('x', 'float32', ['N', 4])],
    makeValueInfo('y', 'float32', ['N', 2]),
    [weight('w', [2, 4])],
  );
  assert.throws(
    () => importFromOnnx(model, tf),
    (e: unknown) =>
      e instanceof ShrinkError &&
      e.code === 'UNSUPPORTED_OP' &&
      e.message.startsWith("node 'weird_sin' (Sin) has no tfjs import") &&
      e.message.includes('supported ops: Gemm, MatMul, Conv'),
  );
  const grouped = modelOf(
    [makeNode('Conv', ['x', 'w'], ['y'], { kernel_shape: [1, 1], group: 2 }, { name: 'grouped' })],
    [makeValueInfo('x', 'float32', ['N', 4, 3, 3])],
    makeValueInfo('y', 'float32', ['N', 2, 3, 3]),
    [weight('w', [2, 2, 1, 1])],
  );
  assert.throws(() => importFromOnnx(grouped, tf), /node 'grouped' \(Conv\) has group=2 on 4 input channels/);
});

/**
 * PyTorch's `x.view(x.size(0), -1)`: Shape -> Gather(0) -> Unsqueeze -> Concat(with [-1]) -> Reshape.
 * Opset 13+ takes Unsqueeze axes as an input, older opsets as an attribute.
 */
function torchFlatten(x: string, out: string, prefix: string, opset: number): { nodes: onnx.NodeProto[]; inits: onnx.TensorProto[] } {
  const n = (s: string): string => `${prefix}_${s}`;
  const unsqueeze =
    opset >= 13
      ? makeNode('Unsqueeze', [n('n'), n('axes')], [n('n1')], {}, { name: `/${prefix}/Unsqueeze` })
      : makeNode('Unsqueeze', [n('n')], [n('n1')], { axes: [0] }, { name: `/${prefix}/Unsqueeze` });
  return {
    nodes: [
      makeNode('Shape', [x], [n('shape')], {}, { name: `/${prefix}/Shape` }),
      makeNode('Gather', [n('shape'), n('zero')], [n('n')], { axis: 0 }, { name: `/${prefix}/Gather` }),
      unsqueeze,
      makeNode('Constant', [], [n('minus1')], { value: makeTensor('', 'int64', [1], [-1]) }, { name: `/${prefix}/Constant` }),
      makeNode('Concat', [n('n1'), n('minus1')], [n('target')], { axis: 0 }, { name: `/${prefix}/Concat` }),
      makeNode('Reshape', [x, n('target')], [out], {}, { name: `/${prefix}/Reshape` }),
    ],
    inits: [makeTensor(n('zero'), 'int64', [], [0]), ...(opset >= 13 ? [int64(n('axes'), [0])] : [])],
  };
}

test('PyTorch CNN flattening with x.view(x.size(0), -1) imports: the shape subgraph becomes no layer, Dense rows absorb NCHW order', async () => {
  const flat = torchFlatten('p1', 'f', 'flat', 17);
  const model = modelOf(
    [
      makeNode('Conv', ['x', 'c1.w', 'c1.b'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: '/conv1/Conv' }),
      makeNode('Relu', ['c1'], ['r1'], {}, { name: '/relu1/Relu' }),
      makeNode('MaxPool', ['r1'], ['p1'], { kernel_shape: [2, 2], strides: [2, 2] }, { name: '/pool1/MaxPool' }),
      ...flat.nodes,
      makeNode('Gemm', ['f', 'fc1.w', 'fc1.b'], ['h'], { transB: 1 }, { name: '/fc1/Gemm' }),
      makeNode('Relu', ['h'], ['hr'], {}, { name: '/relu2/Relu' }),
      makeNode('Gemm', ['hr', 'fc2.w', 'fc2.b'], ['y'], { transB: 1 }, { name: '/fc2/Gemm' }),
    ],
    [makeValueInfo('x', 'float32', ['batch', 3, 8, 6])],
    makeValueInfo('y', 'float32', ['batch', 4]),
    [
      weight('c1.w', [5, 3, 3, 3]),
      weight('c1.b', [5]),
      ...flat.inits,
      weight('fc1.w', [10, 5 * 4 * 3]),
      weight('fc1.b', [10]),
      weight('fc2.w', [4, 10]),
      weight('fc2.b', [4]),
    ],
  );
  // Two batch sizes: the batch stays symbolic although static inference resolved the target shape.
  await expectImportMatches(model, [1, 3, 8, 6], 20);
  const { model: m, report } = await expectImportMatches(model, [5, 3, 8, 6], 21);
  assert.deepEqual(report.inputs[0]!.tfjsShape, [null, 8, 6, 3]);
  assert.deepEqual(classNames(m), ['InputLayer', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense']);
  const shapeOnly = report.nodes.filter((n) => n.shapeOnly).map((n) => n.opType);
  assert.deepEqual(shapeOnly, ['Shape', 'Gather', 'Unsqueeze', 'Constant', 'Concat']);
  assert.ok(report.nodes.filter((n) => n.shapeOnly).every((n) => n.layers.length === 0));
});

test('PyTorch MLP with the view flatten (opset 11), Unsqueeze/Squeeze around Gemm and Identity imports with equal outputs', async () => {
  const flat = torchFlatten('x', 'f', 'view', 11);
  const model = modelOf(
    [
      ...flat.nodes,
      makeNode('Gemm', ['f', 'w1', 'b1'], ['h1'], { transB: 1 }, { name: '/fc1/Gemm' }),
      makeNode('Unsqueeze', ['h1'], ['u'], { axes: [1] }, { name: '/unsqueeze' }),
      makeNode('Tanh', ['u'], ['ut'], {}, { name: '/tanh' }),
      makeNode('Squeeze', ['ut'], ['s'], { axes: [1] }, { name: '/squeeze' }),
      makeNode('Gemm', ['s', 'w2', 'b2'], ['h2'], { transB: 1 }, { name: '/fc2/Gemm' }),
      makeNode('Identity', ['h2'], ['y'], {}, { name: '/identity' }),
    ],
    [makeValueInfo('x', 'float32', ['N', 2, 3, 5])],
    makeValueInfo('y', 'float32', ['N', 3]),
    [...flat.inits, weight('w1', [8, 30]), weight('b1', [8]), weight('w2', [3, 8]), weight('b2', [3])],
    11,
  );
  const { model: m, report } = await expectImportMatches(model, [4, 2, 3, 5], 22);
  // The input only reaches a flatten: no channel axis to move, so the tfjs model takes it as it is.
  assert.equal(report.inputs[0]!.layout, 'as-is');
  assert.ok(!classNames(m).includes('Permute'), `unexpected Permute in ${classNames(m).join(', ')}`);
  assert.equal(report.nodes.filter((n) => n.shapeOnly).length, 5);
});

test('Reshape by a Constant node, Slice/Cast shape subgraphs and Squeeze after global pooling import with equal outputs', async () => {
  const model = modelOf(
    [
      makeNode('Constant', [], ['to_image'], { value: makeTensor('', 'int64', [4], [-1, 2, 3, 4]) }, { name: '/Constant' }),
      makeNode('Reshape', ['x', 'to_image'], ['img'], {}, { name: '/to_image/Reshape' }),
      makeNode('Conv', ['img', 'c.w', 'c.b'], ['c'], { kernel_shape: [1, 1] }, { name: '/conv/Conv' }),
      makeNode('Relu', ['c'], ['cr'], {}, { name: '/relu' }),
      // [N, 5, 3, 4] -> [N, 5, 12] from Shape -> Slice -> Cast -> Concat.
      makeNode('Shape', ['cr'], ['cs'], {}, { name: '/shape' }),
      makeNode('Slice', ['cs', 's0', 's2'], ['nc'], {}, { name: '/slice' }),
      makeNode('Cast', ['nc'], ['nc64'], { to: onnx.TensorProto.DataType.INT64 }, { name: '/cast' }),
      makeNode('Concat', ['nc64', 'm1'], ['rows'], { axis: 0 }, { name: '/concat' }),
      makeNode('Reshape', ['cr', 'rows'], ['r'], {}, { name: '/rows/Reshape' }),
      makeNode('Unsqueeze', ['r', 'ax3'], ['r4'], {}, { name: '/unsqueeze' }),
      makeNode('GlobalMaxPool', ['r4'], ['g'], {}, { name: '/gmp' }),
      makeNode('Squeeze', ['g', 'ax23'], ['gs'], {}, { name: '/squeeze' }),
      makeNode('Gemm', ['gs', 'fc.w', 'fc.b'], ['y'], { transB: 1 }, { name: '/fc/Gemm' }),
    ],
    [makeValueInfo('x', 'float32', ['N', 24])],
    makeValueInfo('y', 'float32', ['N', 2]),
    [
      weight('c.w', [5, 2, 1, 1]),
      weight('c.b', [5]),
      int64('s0', [0]),
      int64('s2', [2]),
      int64('m1', [-1]),
      int64('ax3', [3]),
      int64('ax23', [2, 3]),
      weight('fc.w', [2, 5]),
      weight('fc.b', [2]),
    ],
  );
  const { model: m, report } = await expectImportMatches(model, [3, 24], 23);
  assert.deepEqual(
    report.nodes.filter((n) => n.shapeOnly).map((n) => n.name),
    ['/Constant', '/shape', '/slice', '/cast', '/concat'],
  );
  assert.ok(classNames(m).includes('GlobalMaxPooling2D'));
  // The Squeeze after global pooling needs no layer of its own.
  assert.deepEqual(report.nodes.find((n) => n.name === '/squeeze')?.fusedInto, '/gmp');
});

test('a Reshape that merges the batch into other dims is refused naming the node and the static shapes', () => {
  const model = modelOf(
    [makeNode('Gemm', ['x', 'w'], ['h'], { transB: 1 }, { name: 'fc' }), makeNode('Reshape', ['h', 'pairs'], ['y'], {}, { name: 'pairs' })],
    [makeValueInfo('x', 'float32', ['N', 4])],
    makeValueInfo('y', 'float32', [null, 3]),
    [weight('w', [6, 4]), int64('pairs', [-1, 3])],
  );
  assert.throws(
    () => importFromOnnx(model, tf),
    (e: unknown) =>
      e instanceof ShrinkError &&
      e.code === 'UNSUPPORTED_OP' &&
      e.message.startsWith("node 'pairs' (Reshape) does not keep the batch axis first") &&
      e.message.includes('[2, 6] -> [4, 3]'),
  );
});

test('a rank-4 input that only feeds Flatten (an MLP over image pixels) keeps its layout', async () => {
  const w = Array.from({ length: 12 * 3 }, (_, i) => Math.sin(i));
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('Flatten', ['x'], ['f'], { axis: 1 }), makeNode('Gemm', ['f', 'w'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', ['N', 2, 3, 2])],
      outputs: [makeValueInfo('y', 'float32', ['N', 3])],
      initializers: [makeTensor('w', 'float32', [12, 3], w)],
    }),
  );
  const { model: m, report } = importFromOnnx(model, tf);
  assert.equal(report.inputs[0]!.layout, 'as-is');
  const x = Float32Array.from({ length: 2 * 12 }, (_, i) => Math.cos(i));
  const got = (m.predict(tf.tensor(x, [2, 2, 3, 2])) as import('@tensorflow/tfjs').Tensor).dataSync();
  const session = await ort.InferenceSession.create(encodeModel(model));
  const want = (await session.run({ x: new ort.Tensor('float32', x, [2, 2, 3, 2]) }))['y']!.data as Float32Array;
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-4, `${i}: ${got[i]} vs ${want[i]}`);
  m.dispose();
});

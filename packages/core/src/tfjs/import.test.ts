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
  makeTensor(name, 'float32', dims, rand(dims.reduce((a, b) => a * b, 1), seed++, lo, hi));
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
  const x = rand(dims.reduce((a, b) => a * b, 1), inputSeed, -2, 2);
  const want = await runOnnx(model, x, dims);
  const imported = importFromOnnx(model, tf);
  const xt = tf.tensor(x, dims);
  const fed = imported.report.inputs[0]!.layout === 'nchw' ? tf.transpose(xt, [0, 2, 3, 1]) : xt;
  const got = (imported.model.predict(fed) as tf.Tensor).dataSync();
  const d = maxAbsDiff(got, want);
  assert.ok(d <= TOL, `max |tfjs - onnx| = ${d} > ${TOL}`);
  return imported;
}

function modelOf(nodes: onnx.NodeProto[], inputs: onnx.ValueInfoProto[], output: onnx.ValueInfoProto, initializers: onnx.TensorProto[], opset = 17) {
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
      makeNode('Conv', ['p1', 'c2.w', 'c2.b'], ['c2'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { name: '/conv2/Conv' }),
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
    [weight('dw.w', [8, 1, 3, 3]), weight('dw.b', [8]), weight('pw.w', [6, 8, 1, 1]), int64('flat', [0, -1]), weight('fc.w', [3, 6]), weight('fc.b', [3])],
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
  const padded = tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 2]] }).apply(input) as tf.SymbolicTensor;
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

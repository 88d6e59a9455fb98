import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { onnx } from '../onnx/proto.js';
import { encodeModel } from '../onnx/codec.js';
import { ShrinkError } from '../errors.js';
import { exportToOnnx } from './export.js';
import { permute } from './convert/permute.js';

await tf.setBackend('cpu');

const TOL = 1e-4;
const graphOf = (m: onnx.IModelProto): onnx.GraphProto => m.graph as onnx.GraphProto;

/** Deterministic inputs in [-2, 2). */
function randomInput(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -2, 2, 'float32', seed);
}

async function runOnnx(model: onnx.ModelProto, feeds: Record<string, tf.Tensor>): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor('float32', t.dataSync() as Float32Array, t.shape);
  const out = await session.run(ortFeeds);
  const result = session.outputNames.map((n) => out[n]!.data as Float32Array);
  await session.release();
  return result;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'output sizes differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Exports `model`, runs both on `x` and checks every output within TOL. */
async function expectSameOutputs(model: tf.LayersModel, xs: tf.Tensor[], opts = {}): Promise<onnx.ModelProto> {
  const { model: proto } = exportToOnnx(model, opts);
  const feeds: Record<string, tf.Tensor> = {};
  graphOf(proto).input.forEach((vi, i) => (feeds[vi.name!] = xs[i]!));
  const got = await runOnnx(proto, feeds);
  const want = [model.predict(xs.length === 1 ? xs[0]! : xs)].flat() as tf.Tensor[];
  want.forEach((w, i) => {
    const d = maxAbsDiff(w.dataSync(), got[i]!);
    assert.ok(d <= TOL, `output ${i}: max |tfjs - onnx| = ${d} > ${TOL}`);
  });
  return proto;
}

/** Non-trivial moving statistics, so a wrong BatchNormalization export cannot pass as identity. */
function randomizeBatchNorm(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const ws = layer.getWeights();
    layer.setWeights(
      ws.map((w, i) =>
        i === ws.length - 1 ? tf.randomUniform(w.shape, 0.5, 2, 'float32', 7) : tf.randomNormal(w.shape, 0, 0.5, 'float32', 3 + i),
      ),
    );
  }
}

const opCount = (m: onnx.ModelProto, op: string): number => graphOf(m).node.filter((n) => n.opType === op).length;

test('digits-like MLP 64->32->10 softmax matches tfjs for several batch sizes', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [64], units: 32, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  const proto = await expectSameOutputs(model, [randomInput([7, 64], 1)]);
  await expectSameOutputs(model, [randomInput([1, 64], 2)]);
  const { report } = exportToOnnx(model);
  assert.deepEqual(
    report.layers.map((l) => l.className),
    ['Dense', 'Dense'],
  );
  assert.equal(report.skipped[0]?.className, 'Dropout');
  const input = graphOf(proto).input[0]!;
  assert.equal(input.type!.tensorType!.shape!.dim![0]!.dimParam, 'batch');
  assert.equal(graphOf(proto).output[0]!.name, model.layers[2]!.name);
  assert.equal(proto.opsetImport[0]!.version, 17);
});

test('small CNN (same/valid conv, stride 2, max/avg pool, batchnorm, dropout, flatten, dense) matches tfjs on NHWC input', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [13, 12, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
      tf.layers.conv2d({ filters: 6, kernelSize: [3, 2], strides: 2, padding: 'valid', activation: 'elu' }),
      tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', dilationRate: 2, useBias: false }),
      tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  randomizeBatchNorm(model);
  const proto = await expectSameOutputs(model, [randomInput([3, 13, 12, 3], 4)]);
  // One transpose into NCHW before the first conv, one back before Flatten.
  assert.equal(opCount(proto, 'Transpose'), 2);
  assert.equal(opCount(proto, 'Conv'), 3);
  assert.equal(opCount(proto, 'BatchNormalization'), 1);
});

test('nchw inputLayout takes PyTorch-style images and needs no input Transpose', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 3, kernelSize: 3, strides: 2, padding: 'same' }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 4 }),
    ],
  });
  const x = randomInput([2, 8, 8, 2], 5);
  const { model: proto } = exportToOnnx(model, { inputLayout: 'nchw' });
  assert.equal(opCount(proto, 'Transpose'), 0);
  const nchw = tf.tensor(permute(x.dataSync(), x.shape, [0, 3, 1, 2]), [2, 2, 8, 8]);
  const [got] = await runOnnx(proto, { [graphOf(proto).input[0]!.name!]: nchw });
  const d = maxAbsDiff((model.predict(x) as tf.Tensor).dataSync(), got!);
  assert.ok(d <= TOL, `max diff ${d}`);
});

test('functional graph with depthwise conv, padding, merges and advanced activations matches tfjs', async () => {
  const input = tf.input({ shape: [9, 9, 4] });
  const padded = tf.layers
    .zeroPadding2d({
      padding: [
        [1, 0],
        [2, 1],
      ],
    })
    .apply(input) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, activation: 'relu6' }).apply(padded) as tf.SymbolicTensor;
  const a = tf.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'swish' }).apply(dw) as tf.SymbolicTensor;
  const b = tf.layers.leakyReLU({ alpha: 0.2 }).apply(dw) as tf.SymbolicTensor;
  const sum = tf.layers.add().apply([a, b]) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate().apply([sum, tf.layers.reLU({ maxValue: 1.5 }).apply(a) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const soft = tf.layers.softmax({ axis: -1 }).apply(cat) as tf.SymbolicTensor;
  const pooled = tf.layers.globalMaxPooling2d({}).apply(soft) as tf.SymbolicTensor;
  const d1 = tf.layers.dense({ units: 6, activation: 'gelu' }).apply(pooled) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization().apply(d1) as tf.SymbolicTensor;
  const out1 = tf.layers.activation({ activation: 'selu' }).apply(bn) as tf.SymbolicTensor;
  const r = tf.layers.reshape({ targetShape: [3, 2] }).apply(out1) as tf.SymbolicTensor;
  const out2 = tf.layers.dense({ units: 2, activation: 'mish' }).apply(r) as tf.SymbolicTensor;
  const elu = tf.layers.elu().apply(tf.layers.flatten().apply(out2)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [out1, elu] });
  randomizeBatchNorm(model);
  const proto = await expectSameOutputs(model, [randomInput([2, 9, 9, 4], 6)]);
  assert.deepEqual(
    graphOf(proto).output.map((o) => o.name),
    [out1.sourceLayer.name, elu.sourceLayer.name],
  );
});

test('unsupported layers and options are refused with what would be valid', () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [4], units: 3 }), tf.layers.repeatVector({ n: 2 })],
  });
  const name = model.layers[1]!.name;
  assert.throws(
    () => exportToOnnx(model),
    (e: unknown) =>
      e instanceof ShrinkError &&
      e.code === 'UNSUPPORTED_MODEL' &&
      e.message.includes(`'${name}' (RepeatVector)`) &&
      e.message.includes('supported layers: Dense, Conv2D'),
  );
  const ok = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'selu' })] });
  assert.throws(
    () => exportToOnnx(ok, { opset: 11 }),
    (e: unknown) => e instanceof ShrinkError && /opset: must be >= 13/.test(e.message),
  );
  const odd = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'gelu_new' })] });
  assert.throws(() => exportToOnnx(odd), /activation 'gelu_new'.*supported: linear, relu/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as tfjs from '@tensorflow/tfjs';
import { resolveSplit } from '../data/resolve.js';
import { softmax } from '../measure/divergence.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { initTf } from './backend.js';
import { importFromOnnx } from './import.js';
import { crossEntropyFromLogits, labelLoss } from './label-loss.js';
import { layersFinalOp, layersOutputKind } from './layers-output-kind.js';
import { getPreset } from './presets.js';
import { trainModel } from './train.js';

const { tf } = await initTf();
const split = await resolveSplit('digits');

/** 64 -> 32 (relu) -> 10 through `last`, seeded. */
function mlp(last: (x: tfjs.SymbolicTensor) => tfjs.SymbolicTensor): tfjs.LayersModel {
  const input = tf.input({ shape: [64] });
  const h = tf.layers
    .dense({ units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })
    .apply(input) as tfjs.SymbolicTensor;
  return tf.model({ inputs: input, outputs: last(h) });
}
const dense = (activation: 'linear' | 'softmax' | 'sigmoid') => (x: tfjs.SymbolicTensor) =>
  tf.layers
    .dense({ units: 10, activation, name: 'out', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })
    .apply(x) as tfjs.SymbolicTensor;
const then = (f: (x: tfjs.SymbolicTensor) => tfjs.SymbolicTensor, layer: tfjs.layers.Layer) => (x: tfjs.SymbolicTensor) =>
  layer.apply(f(x)) as tfjs.SymbolicTensor;

test('tfjs models: the last layer decides like the ONNX graph does; after a Reshape the probe rows do', () => {
  const cases: Array<[string, tfjs.LayersModel, string, string]> = [
    ['preset (Dense logits + Activation softmax)', getPreset('digits-mlp').build(tf, 0), 'probabilities', 'model'],
    ['Dense linear', mlp(dense('linear')), 'logits', 'model'],
    ['Dense with a fused softmax', mlp(dense('softmax')), 'probabilities', 'model'],
    [
      'Dense then logSoftmax',
      mlp(then(dense('linear'), tf.layers.activation({ activation: 'logSoftmax' as 'softmax' }))),
      'logits',
      'model',
    ],
    ['Dense with a sigmoid', mlp(dense('sigmoid')), 'probabilities', 'model'],
    ['Softmax layer', mlp(then(dense('linear'), tf.layers.softmax())), 'probabilities', 'model'],
    ['softmax then Reshape', mlp(then(dense('softmax'), tf.layers.reshape({ targetShape: [10] }))), 'probabilities', 'outputs'],
    ['linear then Reshape', mlp(then(dense('linear'), tf.layers.reshape({ targetShape: [10] }))), 'logits', 'outputs'],
  ];
  for (const [name, model, kind, by] of cases) {
    const d = layersOutputKind(tf, model, split.train);
    assert.deepEqual([d.kind, d.by], [kind, by], `${name}: ${d.reason}`);
    model.dispose();
  }
  const unprobed = mlp(then(dense('linear'), tf.layers.reshape({ targetShape: [10] })));
  assert.equal(layersOutputKind(tf, unprobed).by, 'assumed');
  unprobed.dispose();
});

test('imported ONNX: a PyTorch-style Gemm output is logits, a Softmax after it (fused into the Dense) probabilities', () => {
  const graph = (softmax: boolean) =>
    makeModel(
      makeGraph({
        nodes: [
          makeNode('Gemm', ['x', 'W', 'b'], ['z'], { transB: 1 }),
          ...(softmax ? [makeNode('Softmax', ['z'], ['p'], { axis: -1 })] : []),
        ],
        inputs: [makeValueInfo('x', 'float32', ['N', 64])],
        outputs: [makeValueInfo(softmax ? 'p' : 'z', 'float32', ['N', 10])],
        initializers: [
          makeTensor('W', 'float32', [10, 64], new Float32Array(640).fill(0.01)),
          makeTensor('b', 'float32', [10], new Float32Array(10)),
        ],
      }),
      { opset: 13 },
    );
  const logits = importFromOnnx(graph(false), tf).model;
  const probs = importFromOnnx(graph(true), tf).model;
  assert.equal(layersFinalOp(logits).activation, 'linear');
  assert.equal(layersOutputKind(tf, logits, split.train).kind, 'logits');
  assert.equal(layersOutputKind(tf, probs, split.train).kind, 'probabilities');
  assert.equal(labelLoss(tf, probs, split.train).loss, 'categoricalCrossentropy');
  assert.equal(typeof labelLoss(tf, logits, split.train).loss, 'function');
  logits.dispose();
  probs.dispose();
});

test('crossEntropyFromLogits is the cross-entropy of softmax(logits), per sample, also for confident mistakes', () => {
  const labels = [0, 2, 1];
  const logits = [
    [2, 1, 0],
    [-3, 0.5, 4],
    [60, -60, 0],
  ];
  const ours = tf.tidy(
    () => crossEntropyFromLogits(tf)(tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat(), tf.tensor2d(logits)).arraySync() as number[],
  );
  assert.equal(ours.length, 3);
  // In float64: -log softmax(z)[label].
  logits.forEach((z, i) => {
    const want = -Math.log(softmax(z)[labels[i]!]!);
    assert.ok(Math.abs(ours[i]! - want) < 1e-4 * Math.max(1, want), `sample ${i}: ${ours[i]} vs ${want}`);
  });
  // softmax(z) of the true class is 1e-52 there, 0 in float32: the loss stays finite (120), not Infinity.
  assert.ok(Math.abs(ours[2]! - 120) < 1e-3, `${ours[2]}`);
});

test('trainModel trains a logits classifier as logits: cross-entropy on "probabilities" would ruin it', async () => {
  const model = mlp(dense('linear'));
  const r = await trainModel(tf, model, split.train, split.test, {
    epochs: 5,
    batchSize: 32,
    seed: 1,
    compile: { lr: 0.005, loss: 'categoricalCrossentropy' },
  });
  assert.equal(r.outputs?.kind, 'logits');
  assert.match(r.outputs?.reason ?? '', /Dense layer 'out' \(linear\), which is linear: logits/);
  assert.ok(r.history.at(-1)!.loss < r.history[0]!.loss, r.history.map((h) => h.loss).join(', '));
  assert.ok(r.test!.accuracy! > 0.9, `test accuracy ${r.test!.accuracy}`);
  model.dispose();
});

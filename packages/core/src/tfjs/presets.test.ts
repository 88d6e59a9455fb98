import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as tfjs from '@tensorflow/tfjs';
import { initTf } from './backend.js';
import { getPreset, logitsModel, scheduledLr, TF_PRESETS } from './presets.js';

function describe(m: tfjs.LayersModel) {
  return m.layers.map((l) => {
    const c = l.getConfig() as { units?: number; activation?: string; filters?: number };
    return [l.getClassName(), l.name, c.units ?? c.filters ?? null, c.activation ?? null];
  });
}

test('seed preset is exactly Linear 1000->200->ReLU->100->ReLU->1 with MSE and Adam 0.001', async () => {
  const { tf } = await initTf();
  const p = getPreset('seed');
  const m = p.build(tf, 0);
  assert.deepEqual(m.inputs[0]!.shape, [null, 1000]);
  assert.deepEqual(describe(m), [
    ['Dense', 'fc1', 200, 'relu'],
    ['Dense', 'fc2', 100, 'relu'],
    ['Dense', 'out', 1, 'linear'],
  ]);
  assert.equal(m.countParams(), 1000 * 200 + 200 + 200 * 100 + 100 + 100 + 1);
  assert.equal(p.loss, 'meanSquaredError');
  assert.equal(p.lr, 0.001);
  assert.equal(p.data, 'seed');
  m.dispose();
});

test('classifier presets end in Dense "logits" (linear) then Activation "probs" (softmax)', async () => {
  const { tf } = await initTf();
  const digits = getPreset('digits-mlp').build(tf, 0);
  assert.deepEqual(describe(digits), [
    ['Dense', 'fc1', 256, 'relu'],
    ['Dense', 'fc2', 128, 'relu'],
    ['Dense', 'logits', 10, 'linear'],
    ['Activation', 'probs', null, 'softmax'],
  ]);
  assert.equal(digits.countParams(), 64 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  const mlp = getPreset('fashion-mlp').build(tf, 0);
  assert.deepEqual(mlp.inputs[0]!.shape, [null, 28, 28, 1]);
  assert.equal(mlp.countParams(), 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10);
  const cnn = getPreset('fashion-cnn').build(tf, 0);
  assert.deepEqual(
    describe(cnn).map((d) => d[0]),
    ['Conv2D', 'MaxPooling2D', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense', 'Activation'],
  );
  assert.equal(cnn.countParams(), 160 + 4640 + 800 * 64 + 64 + 650);
  // logitsModel shares weights: softmax of its output equals the full model's output.
  const x = tf.randomUniform([3, 64], 0, 1, 'float32', 5);
  const probs = digits.predict(x) as tfjs.Tensor;
  const viaLogits = tf.softmax(logitsModel(tf, digits).predict(x) as tfjs.Tensor);
  const diff = tf.max(tf.abs(tf.sub(probs, viaLogits))).dataSync()[0]!;
  assert.ok(diff < 1e-6, `max diff ${diff}`);
  assert.throws(() => logitsModel(tf, getPreset('seed').build(tf, 0)), { code: 'NOT_FOUND' });
  assert.throws(() => getPreset('resnet'), { code: 'INVALID_ARGUMENT', message: /seed, digits-mlp, fashion-mlp, fashion-cnn/ });
  assert.equal(TF_PRESETS.size, 4);
  tf.dispose([x, probs, viaLogits]);
});

test('the same seed builds identical weights; another seed does not', async () => {
  const { tf } = await initTf();
  const p = getPreset('fashion-cnn');
  const a = p
    .build(tf, 7)
    .getWeights()
    .map((w) => w.dataSync());
  const b = p
    .build(tf, 7)
    .getWeights()
    .map((w) => w.dataSync());
  const c = p
    .build(tf, 8)
    .getWeights()
    .map((w) => w.dataSync());
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0], c[0]);
});

test('scheduledLr: constant keeps lr; cosine starts at lr and falls every epoch, still above 0 at the last', () => {
  assert.equal(scheduledLr(0.002, 'constant', 7, 10), 0.002);
  const lrs = Array.from({ length: 10 }, (_, i) => scheduledLr(0.002, 'cosine', i + 1, 10));
  assert.equal(lrs[0], 0.002);
  for (let i = 1; i < lrs.length; i++) assert.ok(lrs[i]! < lrs[i - 1]!, `epoch ${i + 1}: ${lrs[i]} >= ${lrs[i - 1]}`);
  assert.ok(Math.abs(lrs[5]! - 0.001) < 1e-12, 'half way down at the middle');
  assert.ok(lrs[9]! > 0 && lrs[9]! < 0.0001);
  assert.equal(scheduledLr(0.002, 'cosine', 1, 1), 0.002);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as tfjs from '@tensorflow/tfjs';
import { encodeModel, readTensor, ShrinkError } from '@shrink/core';
import { reshapeDataset, resolveSplit } from '@shrink/core/data';
import { createSession, evaluate } from '@shrink/core/runtime';
import { evaluateModel, exportToOnnx, initTf, trainPreset } from '@shrink/core/tfjs';
import { fineTunePruned, pruneGradually, pruneOnnxGradually } from './gradual.js';

const split = await resolveSplit('digits');
const { tf } = await initTf();

const kernels = (m: tfjs.LayersModel) =>
  m.layers
    .filter((l) => ['Dense', 'Conv2D'].includes(l.getClassName()))
    .map((l) => ({ layer: l.name, w: l.getWeights()[0]!.dataSync() as Float32Array }));
const biases = (m: tfjs.LayersModel) =>
  m.layers.filter((l) => l.getClassName() === 'Dense').map((l) => Array.from(l.getWeights()[1]!.dataSync()));
const zerosOf = (w: ArrayLike<number>) => Array.from(w).filter((v) => v === 0).length;

test('cubic gradual pruning to 80% over 4 epochs: exactly 80% zeros per kernel, accuracy within 3 points of the float model', async () => {
  const float = await trainPreset('digits-mlp', { epochs: 3 });
  const floatAcc = float.test!.accuracy!;
  const r = await pruneGradually(float.model, split.train, split.test, {
    schedule: 'cubic',
    finalSparsity: 0.8,
    epochs: 4,
    frequency: 10,
    seed: 1,
  });
  assert.equal(r.model, float.model, 'the same tfjs model, pruned in place');
  assert.equal(r.history.length, 4);
  assert.equal(r.steps, 4 * Math.ceil(split.train.n / 32));
  assert.equal(r.schedule?.kind, 'cubic');
  // Sparsity rises with the schedule and is at its final value by the last epoch.
  const s = r.history.map((h) => h.sparsity);
  assert.ok(
    s.every((v, i) => i === 0 || v >= s[i - 1]!),
    `sparsity per epoch ${s.join(', ')}`,
  );
  assert.ok(s[0]! > 0.1 && s[0]! < 0.8, `first epoch sparsity ${s[0]}`);
  for (const { layer, w } of kernels(r.model)) {
    const want = Math.round(0.8 * w.length);
    assert.ok(Math.abs(zerosOf(w) - want) <= 1, `${layer}: ${zerosOf(w)} zeros of ${w.length}, want ${want}`);
  }
  assert.deepEqual(
    r.masks.map((m) => m.layer),
    ['fc1', 'fc2', 'logits'],
  );
  assert.ok(r.masks.every((m) => Math.abs(m.sparsity - 0.8) < 1e-3));
  // Biases are never pruned.
  assert.ok(biases(r.model).every((b) => zerosOf(b) < b.length / 2));
  const acc = (await evaluateModel(tf, r.model, split.test)).accuracy!;
  assert.equal(acc, r.test.accuracy);
  assert.ok(acc > floatAcc - 0.03, `pruned ${acc} vs float ${floatAcc}`);
  r.model.dispose();
});

test('fine-tune only after one-shot 90% pruning: accuracy recovers and the zeros stay zero', async () => {
  const { model } = await trainPreset('digits-mlp', { epochs: 3, seed: 2 });
  // One-shot: zero the 90% smallest |w| of every kernel.
  for (const l of model.layers.filter((x) => x.getClassName() === 'Dense')) {
    const [k, b] = l.getWeights() as [tfjs.Tensor, tfjs.Tensor];
    const w = (k.dataSync() as Float32Array).slice();
    const t = Float32Array.from(w, Math.abs).sort()[Math.round(0.9 * w.length) - 1]!;
    l.setWeights([
      tf.tensor(
        w.map((v) => (Math.abs(v) <= t ? 0 : v)),
        k.shape,
      ),
      b,
    ]);
  }
  const zeroAt = kernels(model).map(({ w }) => Array.from(w, (v) => v === 0));
  const before = (await evaluateModel(tf, model, split.test)).accuracy!;
  const r = await fineTunePruned(model, split.train, split.test, { epochs: 2, seed: 3 });
  const after = r.test.accuracy!;
  assert.ok(after > before + 0.01, `accuracy before ${before}, after ${after}`);
  kernels(model).forEach(({ layer, w }, i) => {
    const mask = zeroAt[i]!;
    assert.ok(
      mask.every((z, j) => !z || w[j] === 0),
      `${layer}: a pruned weight moved`,
    );
    assert.equal(zerosOf(w), mask.filter(Boolean).length, `${layer}: zero count`);
  });
  assert.ok(
    r.masks.every((m) => m.sparsity >= 0.9 - 1e-3),
    JSON.stringify(r.masks),
  );
  assert.equal(r.schedule, undefined);
  model.dispose();
});

test('ONNX: import, constant 50% pruning, export; the input model is untouched and the result runs in onnxruntime', async () => {
  const { model } = await trainPreset('digits-mlp', { epochs: 3, seed: 4 });
  const onnxModel = exportToOnnx(model).model;
  model.dispose();
  const bytes = encodeModel(onnxModel);
  const r = await pruneOnnxGradually(onnxModel, split, { schedule: 'constant', finalSparsity: 0.5, epochs: 1, frequency: 5, seed: 5 });
  assert.deepEqual(encodeModel(onnxModel), bytes, 'input model not mutated');
  const matrices = r.model.graph!.initializer!.map(readTensor).filter((t) => t.dims.length === 2);
  assert.equal(matrices.length, 3);
  for (const t of matrices) {
    const want = Math.round(0.5 * t.data.length);
    assert.ok(Math.abs(zerosOf(t.data as Float32Array) - want) <= 1, `${t.name}: ${zerosOf(t.data as Float32Array)} zeros, want ${want}`);
  }
  const s = await createSession(encodeModel(r.model));
  try {
    const e = await evaluate(s, split.test);
    assert.equal(e.task, 'classification');
    if (e.task === 'classification') {
      assert.ok(Math.abs(e.accuracy - r.test.accuracy!) < 0.01, `onnxruntime ${e.accuracy} vs tfjs ${r.test.accuracy}`);
      assert.ok(e.accuracy > 0.85, `accuracy ${e.accuracy}`);
    }
  } finally {
    await s.release();
  }
});

test('bad options get one clear error', async () => {
  const { model } = await trainPreset('digits-mlp', { epochs: 1, data: 'digits:200' });
  const small = { ...split, train: { ...split.train, n: 64, x: split.train.x.subarray(0, 64 * 64), y: split.train.y.subarray(0, 64) } };
  const cases: [Parameters<typeof pruneGradually>[3], string, RegExp][] = [
    [
      { schedule: 'cubic', finalSparsity: 0.5, epochs: 1, frequency: 1, layers: ['fc9'] },
      'INVALID_ARGUMENT',
      /no layer 'fc9' with a kernel; layers with one: fc1, fc2, logits/,
    ],
    [{ schedule: 'cubic', finalSparsity: 1, epochs: 1, frequency: 1 }, 'INVALID_ARGUMENT', /finalSparsity/],
    [{ schedule: 'cubic', finalSparsity: 0.5, epochs: 1, frequency: 5 }, 'INVALID_ARGUMENT', /frequency 5 must be at most 0/],
    [
      { schedule: 'cubic', initialSparsity: 0.6, finalSparsity: 0.5, epochs: 1, frequency: 1 },
      'INVALID_ARGUMENT',
      /initialSparsity 0.6 must be at most finalSparsity 0.5/,
    ],
  ];
  for (const [opts, code, re] of cases) {
    await assert.rejects(
      pruneGradually(model, small.train, small.test, opts),
      (e: unknown) => e instanceof ShrinkError && e.code === code && re.test(e.message),
    );
  }
  model.dispose();
});

test('Conv2D kernels are pruned too (constant schedule), biases untouched', async () => {
  const img = { train: reshapeDataset(split.train, [8, 8, 1]), test: reshapeDataset(split.test, [8, 8, 1]) };
  const m = tf.sequential({ name: 'tiny_cnn' });
  m.add(
    tf.layers.conv2d({
      name: 'conv',
      inputShape: [8, 8, 1],
      filters: 8,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ name: 'out', units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  const r = await pruneGradually(m, img.train, img.test, {
    schedule: 'constant',
    finalSparsity: 0.6,
    epochs: 2,
    frequency: 7,
    lr: 0.01,
    seed: 6,
  });
  assert.deepEqual(
    r.masks.map((x) => [x.layer, x.weight, x.elements, x.zeros]),
    [
      ['conv', 'conv/kernel', 72, Math.round(0.6 * 72)],
      ['out', 'out/kernel', 2880, Math.round(0.6 * 2880)],
    ],
  );
  assert.equal(zerosOf(m.getLayer('conv').getWeights()[1]!.dataSync()), 0, 'conv bias untouched');
  assert.ok(r.test.accuracy! > 0.7, `accuracy ${r.test.accuracy}`);
  m.dispose();
});

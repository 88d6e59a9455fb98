import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as tfjs from '@tensorflow/tfjs';
import type { Progress } from '../context.js';
import { findFashionMnist } from '../data/fashion-mnist.js';
import { trainPreset } from './train.js';

const weightsOf = (m: tfjs.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

test('digits-mlp: 3 epochs on wasm reach > 80% test accuracy, with per-epoch history and progress', async () => {
  const ticks: string[] = [];
  const progress: Progress = {
    start: (label, total) => ticks.push(`start ${label} ${total}`),
    tick: (_n, d) => ticks.push(d ?? ''),
    stop: () => ticks.push('stop'),
  };
  const r = await trainPreset('digits-mlp', { epochs: 3 }, { progress });
  assert.equal(r.backend, 'wasm');
  assert.equal(r.history.length, 3);
  assert.ok(r.test && r.test.accuracy! > 0.8, `test accuracy ${r.test?.accuracy}`);
  assert.equal(r.test.n, 359);
  assert.ok(r.history[2]!.loss < r.history[0]!.loss, 'training loss falls');
  assert.ok(r.history.every((h) => h.valLoss !== undefined && h.valAccuracy !== undefined && h.accuracy !== undefined));
  assert.equal(r.data.test, 'digits:test');
  assert.equal(r.data.validation, 'digits:train:validation');
  assert.equal(ticks[0], 'start train digits-mlp 3');
  assert.equal(ticks.length, 5);
  assert.match(ticks[1]!, /^loss \d\.\d{4} val \d\.\d{4} val acc/);
  assert.ok(r.seconds > 0);
  r.model.dispose();
});

test('training repeats bit for bit from the same seed; another seed differs', async () => {
  const opts = { epochs: 2, data: 'digits:300', batchSize: 16 };
  const a = await trainPreset('digits-mlp', { ...opts, seed: 3 });
  const b = await trainPreset('digits-mlp', { ...opts, seed: 3 });
  const c = await trainPreset('digits-mlp', { ...opts, seed: 4 });
  assert.deepEqual(weightsOf(a.model), weightsOf(b.model));
  assert.deepEqual(
    a.history.map((h) => h.loss),
    b.history.map((h) => h.loss),
  );
  assert.notDeepEqual(weightsOf(a.model)[0], weightsOf(c.model)[0]);
  [a, b, c].forEach((r) => r.model.dispose());
});

test('early stopping stops after `patience` epochs without improvement and restores the best weights', async () => {
  const opts = { data: 'digits:300', batchSize: 16, seed: 1 };
  const one = await trainPreset('digits-mlp', { ...opts, epochs: 1 });
  // minDelta so large that no epoch after the first counts as an improvement.
  const es = await trainPreset('digits-mlp', { ...opts, epochs: 10, earlyStopping: { patience: 2, minDelta: 1e9 } });
  assert.equal(es.stoppedEarly, true);
  assert.equal(es.history.length, 3);
  assert.equal(es.bestEpoch, 1);
  assert.deepEqual(weightsOf(es.model), weightsOf(one.model));
  await assert.rejects(trainPreset('digits-mlp', { ...opts, earlyStopping: { patience: 0 } }), { code: 'INVALID_ARGUMENT' });
  [one, es].forEach((r) => r.model.dispose());
});

test('seed preset trains on the synthetic regression data and reports MAE', async () => {
  const r = await trainPreset('seed', { epochs: 1, data: 'seed:400', validationFraction: 0 });
  assert.equal(r.history.length, 1);
  assert.equal(r.history[0]!.valLoss, undefined);
  assert.ok(r.test!.mae! > 0 && Number.isFinite(r.test!.loss));
  await assert.rejects(trainPreset('seed', { data: 'digits:50' }), {
    code: 'INVALID_DATA',
    message: /preset seed is regression; data digits:test is classification/,
  });
  r.model.dispose();
});

test('fashion-cnn trains on wasm (needs the Conv2DBackpropFilter kernel Shrink adds)', async (t) => {
  try {
    await findFashionMnist(['train', 'test']);
  } catch {
    t.skip('Fashion-MNIST not present');
    return;
  }
  const r = await trainPreset('fashion-cnn', { epochs: 1, data: 'fashion-mnist:256', validationFraction: 0 });
  assert.equal(r.backend, 'wasm');
  assert.ok(Number.isFinite(r.history[0]!.loss));
  assert.equal(r.test!.n, 256);
  r.model.dispose();
});

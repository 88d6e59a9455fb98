import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type * as tfjs from '@tensorflow/tfjs';
import { findFashionMnist, resolveData, resolveSplit } from '../data/index.js';
import { createSession, evaluate } from '../runtime/index.js';
import { initTf } from './backend.js';
import { exportToOnnx } from './export.js';
import { loadLayersModel, saveLayersModel } from './layers-io.js';
import { getPreset, type TfPreset } from './presets.js';
import {
  cacheTrainedWeights,
  findTrainedWeights,
  presetRecipe,
  readTrainedMeta,
  recipeHash,
  shippedWeightsDir,
  splitDigest,
  TRAINED_SCHEMA,
  type TrainedMeta,
} from './trained-weights.js';

test('recipeHash: the same preset, recipe and data give the same key; a change to any of them another', async () => {
  const { tf } = await initTf();
  const base = getPreset('fashion-cnn');
  const recipe = presetRecipe('fashion-cnn');
  const key = recipeHash(tf, recipe, 'data');
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(recipeHash(tf, presetRecipe('fashion-cnn'), 'data'), key);
  // The same preset with one more (identity) layer, or another architecture: the definition changed, so
  // weights trained for the old one must not be used.
  const extraLayer: TfPreset = {
    ...base,
    build(t, seed) {
      const m = base.build(t, seed) as tfjs.Sequential;
      m.add(t.layers.activation({ name: 'extra', activation: 'linear' }));
      return m;
    },
  };
  const changed = [
    recipeHash(tf, recipe, 'data', extraLayer),
    recipeHash(tf, recipe, 'data', { ...base, build: getPreset('fashion-mlp').build }),
    recipeHash(tf, recipe, 'data', { ...base, loss: 'meanSquaredError' }),
    recipeHash(tf, { ...recipe, lr: 0.001 }, 'data'),
    recipeHash(tf, { ...recipe, lrSchedule: 'constant' }, 'data'),
    recipeHash(tf, { ...recipe, epochs: recipe.epochs + 1 }, 'data'),
    recipeHash(tf, { ...recipe, data: 'fashion-mnist:20000' }, 'data'),
    // Another seed means other initial weights (the layer config carries the initializer seeds too).
    recipeHash(tf, { ...recipe, seed: 1 }, 'data'),
    recipeHash(tf, recipe, 'other data'),
  ];
  assert.equal(new Set([key, ...changed]).size, changed.length + 1);
});

test('splitDigest follows the samples and labels, not where they came from', async () => {
  const a = await resolveSplit('digits');
  const b = await resolveSplit('digits');
  assert.equal(splitDigest(a), splitDigest(b));
  const y = Int32Array.from(a.test.y as Int32Array);
  y[0] = (y[0]! + 1) % 10;
  assert.notEqual(splitDigest({ ...a, test: { ...a.test, y } }), splitDigest(a));
  const x = Float32Array.from(a.train.x);
  x[5] = x[5]! + 1e-3;
  assert.notEqual(splitDigest({ ...a, train: { ...a.train, x } }), splitDigest(a));
});

test('cached weights are found under their hash only, and load as the model that was stored', async () => {
  const { tf } = await initTf();
  const cache = mkdtempSync(path.join(os.tmpdir(), 'shrink-trained-'));
  try {
    const model = getPreset('digits-mlp').build(tf, 3);
    const tfjsDir = path.join(cache, 'saved');
    await saveLayersModel(model, tfjsDir);
    const recipe = presetRecipe('digits-mlp', { seed: 3 });
    const hash = recipeHash(tf, recipe, 'digest');
    const meta: TrainedMeta = {
      schema: TRAINED_SCHEMA,
      preset: 'digits-mlp',
      hash,
      recipe,
      dataDigest: 'digest',
      test: { n: 1, accuracy: 0.5 },
      backend: 'wasm',
      epochs: 20,
      seconds: 1,
      history: [],
      command: 'test',
    };
    const entry = await cacheTrainedWeights(tfjsDir, meta, cache);
    assert.deepEqual(await readTrainedMeta(entry), meta);
    const { found } = await findTrainedWeights('digits-mlp', hash, cache);
    assert.equal(found?.from, 'cache');
    assert.equal(found.dir, entry);
    const other = await findTrainedWeights('digits-mlp', recipeHash(tf, { ...recipe, epochs: 21 }, 'digest'), cache);
    assert.equal(other.found, undefined);
    const back = await loadLayersModel(found.dir);
    const want = model.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(
      back.getWeights().map((w) => Array.from(w.dataSync())),
      want,
    );
    model.dispose();
    back.dispose();
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

// The weights the package ships are the demo's fp32 baselines: they must be for today's preset, recipe
// and data (else the demo would train instead), reach par, and give the accuracy their trained.json claims.
for (const [preset, par] of [
  ['fashion-mlp', 0.88],
  ['fashion-cnn', 0.9],
] as const) {
  test(`shipped ${preset} weights: current hash, >= ${par * 100} % and the claimed accuracy (±0.2 points) in onnxruntime`, async (t) => {
    try {
      await findFashionMnist(['train', 'test']);
    } catch (e) {
      t.skip((e as Error).message);
      return;
    }
    const dir = shippedWeightsDir(preset);
    const meta = await readTrainedMeta(dir);
    if (!meta) {
      // Shipping is optional: without it the demo trains the preset once and caches it.
      t.skip(`${dir} ships no weights`);
      return;
    }
    const { tf } = await initTf();
    const recipe = presetRecipe(preset);
    assert.deepEqual(meta.recipe, recipe);
    const hash = recipeHash(tf, recipe, splitDigest(await resolveSplit(recipe.data)));
    assert.equal(meta.hash, hash, `${dir} holds weights for another preset definition, recipe or data; re-run: ${meta.command}`);
    const layers = await loadLayersModel(dir);
    const { model } = exportToOnnx(layers);
    layers.dispose();
    const session = await createSession(model, { label: preset });
    const q = await evaluate(session, await resolveData(recipe.data, { split: 'test' })).finally(() => session.release());
    assert.equal(q.n, 10_000);
    assert.ok(q.task === 'classification' && q.accuracy !== undefined);
    assert.ok(Math.abs(q.accuracy - meta.test.accuracy!) <= 0.002, `measured ${q.accuracy}, trained.json says ${meta.test.accuracy}`);
    assert.ok(q.accuracy >= par, `${preset}: ${q.accuracy} below par ${par}`);
  });
}

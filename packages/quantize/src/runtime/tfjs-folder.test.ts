import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type * as tfjs from '@tensorflow/tfjs';
import { resolveSplit } from '@shrink/core/data';
import { initTf, loadLayersModel, MODEL_JSON, saveLayersModel, trainPreset, WEIGHTS_FILE } from '@shrink/core/tfjs';
import { quantizeTfjsFolder } from './tfjs-folder.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const floatDir = path.join(root, 'float');

let tf: typeof tfjs;
let model: tfjs.LayersModel;
let testX: tfjs.Tensor;
let labels: Int32Array;
let floatProbs: Float32Array;
let inputFiles: Record<string, Buffer>;

const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
const manifestOf = (dir: string) =>
  JSON.parse(fs.readFileSync(path.join(dir, MODEL_JSON), 'utf8')).weightsManifest[0].weights as Array<{
    name: string;
    dtype: string;
    quantization?: Record<string, unknown>;
  }>;

function accuracy(probs: Float32Array): number {
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = probs.subarray(i * 10, i * 10 + 10);
    if (row.indexOf(Math.max(...row)) === labels[i]) hits++;
  }
  return hits / labels.length;
}

before(async () => {
  const trained = await trainPreset('digits-mlp', { epochs: 3 });
  model = trained.model;
  ({ tf } = await initTf());
  await saveLayersModel(model, floatDir);
  inputFiles = snapshot(floatDir);
  const { test: ds } = await resolveSplit('digits'); // the split trainPreset held out
  testX = tf.tensor2d(ds.x, [ds.n, 64]);
  labels = ds.y as Int32Array;
  floatProbs = (model.predict(testX) as tfjs.Tensor).dataSync() as Float32Array;
  assert.ok(accuracy(floatProbs) > 0.85, `float model accuracy ${accuracy(floatProbs)}: training went wrong`);
});

// Tolerances on the digits test set (~360 samples), against the float model: softmax probabilities
// and accuracy (0.003 is one sample). Measured: 0.005 / 2e-5 / 2e-4 prob diff, no accuracy change.
const CASES = [
  { dtype: 'uint8', ratio: 0.25, maxProbDiff: 0.02, maxAccDrop: 0.01 },
  { dtype: 'uint16', ratio: 0.5, maxProbDiff: 1e-4, maxAccDrop: 0.003 },
  { dtype: 'float16', ratio: 0.5, maxProbDiff: 1e-3, maxAccDrop: 0.003 },
] as const;

for (const c of CASES) {
  test(`${c.dtype}: tfjs loads the folder and predicts like the float model; manifest blocks and byte ratio`, async () => {
    const outDir = path.join(root, c.dtype);
    const { report, outDir: written } = await quantizeTfjsFolder(floatDir, outDir, { dtype: c.dtype });
    assert.equal(written, outDir);
    assert.deepEqual(fs.readdirSync(outDir).sort(), [WEIGHTS_FILE, MODEL_JSON].sort());

    const floatBytes = fs.statSync(path.join(floatDir, WEIGHTS_FILE)).size;
    const bytes = fs.statSync(path.join(outDir, WEIGHTS_FILE)).size;
    assert.equal(report.bytesBefore, floatBytes);
    assert.equal(report.bytesAfter, bytes);
    // All six weights are float32, so the shard shrinks by exactly the element size ratio.
    assert.equal(bytes, floatBytes * c.ratio);
    assert.equal(report.weights.length, 6);
    assert.deepEqual(report.skipped, []);

    const weights = manifestOf(outDir);
    const original = manifestOf(floatDir);
    assert.deepEqual(
      weights.map((w) => [w.name, w.dtype]),
      original.map((w) => [w.name, w.dtype]),
    );
    for (const [i, w] of weights.entries()) {
      const r = report.weights[i]!;
      if (c.dtype === 'float16') {
        assert.deepEqual(w.quantization, { dtype: 'float16', original_dtype: 'float32' });
      } else {
        assert.deepEqual(w.quantization, { dtype: c.dtype, scale: r.scale, min: r.min, original_dtype: 'float32' });
        assert.ok(typeof r.scale === 'number' && r.scale > 0 && typeof r.min === 'number', JSON.stringify(r));
      }
    }

    const loaded = await loadLayersModel(outDir);
    // The reported error is what tfjs itself decoded, weight by weight, and stays within half a step.
    const floatWeights = model.getWeights();
    const loadedWeights = loaded.getWeights();
    for (const [i, r] of report.weights.entries()) {
      const a = floatWeights[i]!.dataSync();
      const b = loadedWeights[i]!.dataSync();
      let err = 0;
      let maxAbs = 0;
      for (let k = 0; k < a.length; k++) {
        err = Math.max(err, Math.abs(a[k]! - b[k]!));
        maxAbs = Math.max(maxAbs, Math.abs(a[k]!));
      }
      assert.equal(r.maxAbsError, err, `${r.name}: reported ${r.maxAbsError}, tfjs decoded ${err}`);
      const bound = c.dtype === 'float16' ? maxAbs * 2 ** -11 : r.scale! / 2 + maxAbs * 2 ** -24;
      assert.ok(err <= bound, `${r.name}: error ${err} > ${bound}`);
      assert.ok(err > 0, `${r.name}: error 0, the weights were not quantized`);
    }

    const probs = (loaded.predict(testX) as tfjs.Tensor).dataSync() as Float32Array;
    let diff = 0;
    for (let k = 0; k < probs.length; k++) diff = Math.max(diff, Math.abs(probs[k]! - floatProbs[k]!));
    assert.ok(diff < c.maxProbDiff, `max |prob diff| ${diff} >= ${c.maxProbDiff}`);
    const drop = accuracy(floatProbs) - accuracy(probs);
    assert.ok(drop <= c.maxAccDrop + 1e-9, `accuracy ${accuracy(floatProbs)} -> ${accuracy(probs)}`);
    loaded.dispose();
    assert.deepEqual(snapshot(floatDir), inputFiles, 'the input folder is untouched');
  });
}

test('minElements keeps the biases float32; the mixed folder loads', async () => {
  const outDir = path.join(root, 'mixed');
  const { report } = await quantizeTfjsFolder(floatDir, outDir, { dtype: 'uint8', minElements: 1000 });
  assert.deepEqual(
    report.weights.map((w) => w.name),
    ['fc1/kernel', 'fc2/kernel', 'logits/kernel'],
  );
  assert.deepEqual(
    report.skipped.map((s) => s.name),
    ['fc1/bias', 'fc2/bias', 'logits/bias'],
  );
  assert.deepEqual(
    manifestOf(outDir).map((w) => w.quantization?.dtype ?? w.dtype),
    ['uint8', 'float32', 'uint8', 'float32', 'uint8', 'float32'],
  );
  const loaded = await loadLayersModel(outDir);
  assert.deepEqual(loaded.getWeights()[1]!.dataSync(), model.getWeights()[1]!.dataSync(), 'fc1/bias kept bit for bit');
  loaded.dispose();
});

test('the input folder as output is refused (IO), also through a symlink, unless force', async () => {
  await assert.rejects(quantizeTfjsFolder(floatDir, floatDir), { code: 'IO', message: /is the input folder; .*force/ });
  await assert.rejects(quantizeTfjsFolder(floatDir, `${floatDir}/./`), { code: 'IO' });
  const link = path.join(root, 'link');
  fs.symlinkSync(floatDir, link);
  await assert.rejects(quantizeTfjsFolder(floatDir, link), { code: 'IO' });
  assert.deepEqual(snapshot(floatDir), inputFiles);

  const copy = path.join(root, 'in-place');
  fs.cpSync(floatDir, copy, { recursive: true });
  const { report } = await quantizeTfjsFolder(copy, copy, { dtype: 'float16', force: true });
  assert.equal(fs.statSync(path.join(copy, WEIGHTS_FILE)).size, report.bytesAfter);
  assert.equal(report.bytesAfter * 2, report.bytesBefore);
  const loaded = await loadLayersModel(copy);
  loaded.dispose();
});

test('a bad include names the model.json and the weights; nothing is written', async () => {
  const outDir = path.join(root, 'bad');
  await assert.rejects(quantizeTfjsFolder(floatDir, outDir, { include: ['fc9'] }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.ok(e.message.startsWith(path.join(floatDir, MODEL_JSON)), e.message);
    assert.ok(e.message.includes("'fc9'") && e.message.includes("'fc1/kernel'"), e.message);
    return true;
  });
  assert.equal(fs.existsSync(outDir), false);
});

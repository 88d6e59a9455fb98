import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type * as tfjs from '@tensorflow/tfjs';
import { tensorNumel } from '../onnx/tensor.js';
import { initTf } from './backend.js';
import { loadLayersModel, MODEL_JSON, readLayersModelDir, saveLayersModel, WEIGHTS_FILE, writeLayersModelDir } from './layers-io.js';
import { getPreset } from './presets.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(root, `m${n++}`);

async function savedDigits() {
  const { tf } = await initTf();
  const model = getPreset('digits-mlp').build(tf, 11);
  const dir = fresh();
  await saveLayersModel(model, dir);
  return { tf, model, dir };
}

test('save -> load gives identical predictions; the folder is model.json + one weight shard', async () => {
  const { tf, model, dir } = await savedDigits();
  assert.deepEqual(fs.readdirSync(dir).sort(), [WEIGHTS_FILE, MODEL_JSON].sort());
  const json = JSON.parse(fs.readFileSync(path.join(dir, MODEL_JSON), 'utf8'));
  assert.equal(json.format, 'layers-model');
  assert.deepEqual(json.weightsManifest[0].paths, [WEIGHTS_FILE]);
  assert.deepEqual(
    json.weightsManifest[0].weights.map((w: { name: string }) => w.name),
    ['fc1/kernel', 'fc1/bias', 'fc2/kernel', 'fc2/bias', 'logits/kernel', 'logits/bias'],
  );
  assert.equal(fs.statSync(path.join(dir, WEIGHTS_FILE)).size, model.countParams() * 4);
  const loaded = await loadLayersModel(dir);
  const x = tf.randomUniform([5, 64], 0, 1, 'float32', 3);
  const a = (model.predict(x) as tfjs.Tensor).dataSync();
  const b = (loaded.predict(x) as tfjs.Tensor).dataSync();
  assert.deepEqual(b, a);
  assert.deepEqual(
    loaded.layers.map((l) => l.name),
    model.layers.map((l) => l.name),
  );
});

test('weight paths that are absolute or climb out of the folder are refused (UNSAFE_PATH)', async () => {
  const { dir } = await savedDigits();
  const jsonPath = path.join(dir, MODEL_JSON);
  const json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  for (const bad of ['../outside.bin', '/etc/passwd', 'sub/../../x.bin']) {
    json.weightsManifest[0].paths = [bad];
    fs.writeFileSync(jsonPath, JSON.stringify(json));
    await assert.rejects(readLayersModelDir(dir), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'UNSAFE_PATH', `${bad}: ${e.message}`);
      assert.ok(e.message.includes(bad) && e.message.includes(MODEL_JSON), e.message);
      return true;
    });
  }
});

test('missing or short weight files and broken model.json are INVALID_MODEL naming the file', async () => {
  const { dir } = await savedDigits();
  const bin = path.join(dir, WEIGHTS_FILE);
  const full = fs.readFileSync(bin);
  fs.writeFileSync(bin, full.subarray(0, full.length - 4));
  await assert.rejects(readLayersModelDir(dir), {
    code: 'INVALID_MODEL',
    message: new RegExp(`${WEIGHTS_FILE} in .* holds ${full.length - 4} bytes; weightsManifest\\[0\\] of .* needs ${full.length}`),
  });
  fs.rmSync(bin);
  await assert.rejects(readLayersModelDir(dir), {
    code: 'INVALID_MODEL',
    message: new RegExp(`weight file .*${WEIGHTS_FILE} listed in .*${MODEL_JSON} is missing`),
  });
  fs.writeFileSync(path.join(dir, MODEL_JSON), '{"modelTopology": ');
  await assert.rejects(readLayersModelDir(dir), { code: 'INVALID_MODEL', message: /model\.json is not valid JSON/ });
  fs.writeFileSync(path.join(dir, MODEL_JSON), '{"weightsManifest": []}');
  await assert.rejects(readLayersModelDir(dir), { code: 'INVALID_MODEL', message: /"modelTopology" is missing/ });
  await assert.rejects(readLayersModelDir(fresh()), { code: 'NOT_FOUND' });
});

test('manifests with uint8 quantization blocks load (tfjs dequantizes); raw artifacts keep the blocks', async () => {
  const { tf, model, dir } = await savedDigits();
  const artifacts = await readLayersModelDir(dir);
  const specs = artifacts.weightSpecs!;
  const floats = new Float32Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  // Quantize every weight to uint8 with its own min/scale, as tfjs's converter does.
  const bytes: number[] = [];
  const qspecs = [];
  let off = 0;
  for (const s of specs) {
    const count = tensorNumel(s.shape);
    const w = floats.subarray(off, off + count);
    off += count;
    const min = Math.min(...w);
    const max = Math.max(...w);
    const scale = (max - min) / 255 || 1;
    for (const v of w) bytes.push(Math.round((v - min) / scale));
    qspecs.push({ ...s, quantization: { dtype: 'uint8' as const, min, scale, original_dtype: 'float32' as const } });
  }
  const qdir = fresh();
  await writeLayersModelDir(qdir, { ...artifacts, weightSpecs: qspecs, weightData: Uint8Array.from(bytes).buffer });
  assert.equal(fs.statSync(path.join(qdir, WEIGHTS_FILE)).size, model.countParams());
  const raw = await readLayersModelDir(qdir);
  assert.equal(raw.weightSpecs![0]!.quantization?.dtype, 'uint8');
  const q = await loadLayersModel(qdir);
  const orig = model.getWeights().map((t) => t.dataSync());
  const deq = q.getWeights().map((t) => t.dataSync());
  for (let i = 0; i < orig.length; i++) {
    const o = orig[i]!;
    const d = deq[i]!;
    const step = (Math.max(...o) - Math.min(...o)) / 255;
    for (let j = 0; j < o.length; j++) assert.ok(Math.abs(o[j]! - d[j]!) <= step / 2 + 1e-6, `weight ${i}[${j}]: ${o[j]} vs ${d[j]}`);
  }
});

test('a save that fails before model.json is written leaves the old folder whole: new weights never sit beside an old model.json', async () => {
  const { tf, dir } = await savedDigits();
  const oldWeights = fs.readFileSync(path.join(dir, WEIGHTS_FILE));
  const other = getPreset('digits-mlp').build(tf, 12);
  const artifacts = await new Promise<tfjs.io.ModelArtifacts>((resolve) => {
    void other.save(
      tf.io.withSaveHandler(async (a) => (resolve(a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })),
    );
  });
  // Stands in for any failure between the two files (a kill, a full disk): model.json cannot be serialized.
  await assert.rejects(writeLayersModelDir(dir, { ...artifacts, userDefinedMetadata: { n: 1n as unknown as number } }), TypeError);
  assert.ok(fs.readFileSync(path.join(dir, WEIGHTS_FILE)).equals(oldWeights), 'weights replaced without their model.json');
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
  other.dispose();
});

test('a weightsManifest entry that is not a {name, shape, dtype} object is INVALID_MODEL naming it (found by fuzzing)', async () => {
  const { dir } = await savedDigits();
  const file = path.join(dir, MODEL_JSON);
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const bad of [null, 3, 'w', [], { name: 'x' }, { name: 'x', dtype: 'float32', quantization: 5 }]) {
    const doc = structuredClone(json);
    doc.weightsManifest[0].weights[2] = bad;
    fs.writeFileSync(file, JSON.stringify(doc));
    await assert.rejects(readLayersModelDir(dir), {
      code: 'INVALID_MODEL',
      message: /weightsManifest\[0\]\.weights\[2\] is .*; expected \{"name": string/,
    });
  }
});

test("saving over a folder commits at one rename: the usual two names after it, a dead writer's temporaries removed", async () => {
  const { tf, model, dir } = await savedDigits();
  // What a SIGKILLed save leaves (see packages/core/src/io/temp-name.ts): temporaries under a pid that no longer runs.
  const dead = 2 ** 22 + 12345; // above Linux's largest pid (pid_max is at most 2^22): never a live writer
  const left = [`.${WEIGHTS_FILE}.${dead}.0123456789ab.new`, `.${MODEL_JSON}.${dead}.0123456789ab.tmp`];
  for (const f of left) fs.writeFileSync(path.join(dir, f), 'partial');
  await saveLayersModel(model, dir);
  assert.deepEqual(fs.readdirSync(dir).sort(), [WEIGHTS_FILE, MODEL_JSON].sort());
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, MODEL_JSON), 'utf8')).weightsManifest[0].paths, [WEIGHTS_FILE]);
  const x = tf.randomUniform([2, 64], 0, 1, 'float32', 5);
  assert.deepEqual((await loadLayersModel(dir)).predict(x) instanceof tf.Tensor, true);
});

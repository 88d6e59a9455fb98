// Static (calibrated) quantization of a model a dataset cannot feed: int64 token ids into a Gather
// table plus a float input, two outputs. Calibrated on a JSON feeds file, and on random:N (synthetic
// samples by what each input means).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, subgraphsOf, type onnx } from '@shrink/core';
import type { FeedTensor } from '@shrink/core/runtime';
import { lcgValues } from '../test-data.fixture.js';
import { assertCosine, runAll } from '../real-graphs.fixture.js';
import { isFeedSet } from './calibrate.js';
import { quantizeModel, resolveCalibration } from './quantize-model.js';

const VOCAB = 40;
const SEQ = 6;
const E = 16;

/** hidden = Relu((table[input_ids] + extra) W1) W2; pooled = ReduceMean(hidden over the sequence) W3. */
function twoInputModel(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      name: 'tokens_and_floats',
      nodes: [
        makeNode('Gather', ['table', 'input_ids'], ['emb'], {}, { name: 'embed' }),
        makeNode('Add', ['emb', 'extra'], ['sum'], {}, { name: 'add' }),
        makeNode('MatMul', ['sum', 'W1'], ['h1'], {}, { name: 'mm1' }),
        makeNode('Relu', ['h1'], ['r1'], {}, { name: 'relu' }),
        makeNode('MatMul', ['r1', 'W2'], ['hidden'], {}, { name: 'mm2' }),
        makeNode('ReduceMean', ['hidden'], ['mean'], { axes: [1], keepdims: 0 }, { name: 'pool' }),
        makeNode('MatMul', ['mean', 'W3'], ['pooled'], {}, { name: 'mm3' }),
      ],
      inputs: [makeValueInfo('input_ids', 'int64', ['batch', 'seq']), makeValueInfo('extra', 'float32', ['batch', 'seq', E])],
      outputs: [makeValueInfo('hidden', 'float32', ['batch', 'seq', 8]), makeValueInfo('pooled', 'float32', ['batch', 4])],
      initializers: [
        makeTensor('table', 'float32', [VOCAB, E], lcgValues(VOCAB * E, 1, 1)),
        makeTensor('W1', 'float32', [E, 32], lcgValues(E * 32, 2, 0.3)),
        makeTensor('W2', 'float32', [32, 8], lcgValues(32 * 8, 3, 0.3)),
        makeTensor('W3', 'float32', [8, 4], lcgValues(8 * 4, 4, 0.5)),
      ],
    }),
    { opset: 13 },
  );
}

/** Token ids and float values for sample `k`, as nested arrays (what a JSON feeds file holds). */
function sample(k: number): { input_ids: number[][]; extra: number[][][] } {
  const ids = Array.from({ length: SEQ }, (_, i) => (k * 7 + i * 3) % VOCAB);
  const extra = lcgValues(SEQ * E, 100 + k, 0.5);
  return { input_ids: [ids], extra: [Array.from({ length: SEQ }, (_, i) => Array.from(extra.subarray(i * E, (i + 1) * E)))] };
}

function feedsOf(k: number): Record<string, FeedTensor> {
  const s = sample(k);
  return {
    input_ids: { data: BigInt64Array.from(s.input_ids[0]!, (v) => BigInt(v)), dims: [1, SEQ], type: 'int64' },
    extra: { data: Float32Array.from(s.extra[0]!.flat()), dims: [1, SEQ, E] },
  };
}

/** QDQ pairs anywhere in the model: static quantization happened. */
const quantizeLinears = (g: onnx.IGraphProto): number =>
  (g.node ?? []).reduce(
    (n, x) => n + (x.opType === 'QuantizeLinear' ? 1 : 0) + subgraphsOf(x).reduce((m, s) => m + quantizeLinears(s), 0),
    0,
  );

async function checkStatic(spec: string, cwd: string, name: RegExp): Promise<void> {
  const model = twoInputModel();
  const calibration = await resolveCalibration(spec, model, { cwd });
  assert.ok(isFeedSet(calibration), `${spec} is a feed set`);
  assert.match(calibration.name, name);
  const r = await quantizeModel(model, { dtype: 'q8', mode: 'static' }, { calibration });
  assert.ok(quantizeLinears(r.model.graph!) >= 3, 'activations are quantized');
  // mm3 (8x4) may stay float: the static pass keeps layers too small to pay for their QDQ pairs.
  const actions = Object.fromEntries(r.report.nodes.map((n) => [n.name, n.action]));
  assert.equal(actions['mm1'], 'quantized');
  assert.equal(actions['mm2'], 'quantized');
  assert.equal(r.report.calibration?.samples, calibration.samples.length);
  // Measured on samples the calibration did not see, every output.
  for (const k of [20, 21, 22])
    assertCosine(await runAll(r.model, feedsOf(k)), await runAll(model, feedsOf(k)), 0.99, `${spec} sample ${k}`);
}

test('static q8 calibrated on a JSON feeds file (token ids + a float input, two outputs): every output cosine >= 0.99 in onnxruntime', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'shrink-calib-feeds-'));
  await writeFile(path.join(dir, 'calib.json'), JSON.stringify(Array.from({ length: 6 }, (_, k) => sample(k))));
  await checkStatic('calib.json', dir, /^6 samples of .*calib\.json$/);
});

test('static q8 with random:8 on a multi-input model: 8 synthetic samples (token ids within the table), labelled a smoke test', async () => {
  const model = twoInputModel();
  await checkStatic('random:8', '.', /^random:8 \(synthetic smoke test: 8 synthetic samples .*input_ids: token ids < 40/);
  const r = await quantizeModel(model, { dtype: 'q8', mode: 'static' }, { calibration: await resolveCalibration('random:8', model) });
  assert.match(r.report.notes.join(' '), /smoke test/);
});

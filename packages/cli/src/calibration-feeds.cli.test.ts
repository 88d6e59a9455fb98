// Static (calibrated) quantization of a model a dataset cannot feed, through the CLI: the BERT-style
// fixture (int64 input_ids, attention_mask, token_type_ids; two outputs) calibrated on its feeds file
// and on random:N, checked on its real tokens in onnxruntime, every output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runJson, runShrink } from './cli.fixture.js';
import { transformersFeeds, transformersModel, worstCosine } from './transformers.fixture.js';

const bert = transformersModel('bert-tiny');
const feeds = transformersFeeds('bert-tiny');

test('BERT-style encoder: --mode static --calib-data <feeds.json> calibrates on the feeds; every output cosine >= 0.99 on real tokens', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'shrink-calib-'));
  const out = path.join(dir, 'bert.static.onnx');
  const j = runJson(dir, [
    'quantize',
    bert,
    '--dtype',
    'q8',
    '--mode',
    'static',
    '--allow-slower',
    '--calib-data',
    feeds,
    '-o',
    out,
    '--runs',
    '3',
  ]);
  const q = j['quantization'];
  assert.equal(q.mode, 'static');
  assert.match(q.calibration.data, /sample.* of .*bert-tiny\.feeds\.json/);
  assert.ok(q.calibration.samples >= 1);
  assert.ok(q.nodes.filter((n: { opType: string; action: string }) => n.opType === 'MatMul' && n.action === 'quantized').length >= 8);
  const cos = await worstCosine('bert-tiny', out);
  assert.ok(cos >= 0.99, `cosine on real tokens ${cos}`);
});

test('BERT-style encoder: --calib-data random:8 makes 8 synthetic samples (token ids within the vocabulary) and says it is a smoke test; nothing on stderr under --json', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'shrink-calib-'));
  const out = path.join(dir, 'bert.random.onnx');
  const j = runJson(dir, [
    'quantize',
    bert,
    '--dtype',
    'q8',
    '--mode',
    'static',
    '--allow-slower',
    '--calib-data',
    'random:8',
    '-o',
    out,
    '--runs',
    '3',
  ]);
  assert.match(j['quantization'].calibration.data, /^random:8 \(synthetic smoke test: 8 synthetic samples .*input_ids: token ids < \d+/);
  assert.match((j['quantization'].notes as string[]).join(' '), /a smoke test/);
  const cos = await worstCosine('bert-tiny', out);
  assert.ok(cos >= 0.98, `cosine on real tokens ${cos}`);
  const silent = runShrink(dir, [
    'quantize',
    bert,
    '--dtype',
    'q8',
    '--mode',
    'static',
    '--allow-slower',
    '--calib-data',
    'random:2',
    '-o',
    out,
    '--force',
    '--runs',
    '2',
    '--json',
  ]);
  assert.equal(silent.code, 0, silent.stderr);
  assert.equal(silent.stderr, '', 'nothing on stderr under --json');
});

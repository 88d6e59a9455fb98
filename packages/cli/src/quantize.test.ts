// `shrink quantize` end to end: the real process, a really trained model, onnxruntime, tfjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertOneLineError, runJson, runShrink } from './cli.fixture.js';

let dir: string;
let model: string;

const shrink = (...args: string[]) => runShrink(dir, args);
const json = (...args: string[]) => runJson(dir, args);
const oneLineExit2 = assertOneLineError;
const metric = (out: Record<string, any>, key: string) => out['report'].candidates[0].metrics[key];

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-q-'));
  const r = shrink('train', '--preset', 'digits-mlp', '--epochs', '5', '-o', path.join(dir, 'digits'));
  assert.equal(r.code, 0, r.stderr);
  model = path.join(dir, 'digits', 'model.onnx');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('q8 dynamic: transformers.js name beside the input, ~0.27x size, accuracy within 1 point', () => {
  const out = json('quantize', model, '--data', 'digits', '--runs', '5');
  assert.equal(out['output'], path.join(dir, 'digits', 'model_quantized.onnx'));
  assert.ok(existsSync(out['output']));
  const size = metric(out, 'size.bytes');
  assert.ok(size.ratio < 0.3, `size ratio ${size.ratio}`);
  assert.equal(size.candidate, statSync(out['output']).size);
  const acc = metric(out, 'accuracy');
  assert.ok(acc.delta >= -0.01, `accuracy ${acc.baseline} -> ${acc.candidate}`);
  assert.ok(metric(out, 'fidelity.top1Agreement').candidate > 0.97);
  assert.ok(out['quantization'].nodes.every((n: { action: string }) => n.action === 'quantized'));
  assert.deepEqual(out['quantization'].unhandled, { Relu: 2, Softmax: 1 });
  // Never over an existing file unless asked.
  oneLineExit2(shrink('quantize', model), /model_quantized\.onnx exists; .*--force/);
});

test('static QDQ calibrated on digits, with --explain: accuracy within 1 point, one SQNR row per layer', () => {
  const out = json(
    'quantize',
    model,
    '--mode',
    'static',
    // Format and accuracy are what this test is about; the speed guard has its own tests.
    '--allow-slower',
    '--calib-data',
    'digits',
    '--data',
    'digits',
    '--explain',
    '-o',
    path.join(dir, 'static.onnx'),
    '--runs',
    '5',
  );
  assert.ok(metric(out, 'accuracy').delta >= -0.01, JSON.stringify(metric(out, 'accuracy')));
  assert.equal(out['quantization'].mode, 'static');
  // Relu folded into the Gemm's output range: the Relu rows carry those layers' error, the Gemm rows
  // before them have no value of their own in the quantized graph and say so.
  const rows = out['explain'] as Array<{ node: string; comparable: boolean; sqnrDb: number; reason?: string }>;
  const comparable = rows.filter((r) => r.comparable);
  assert.deepEqual(comparable.map((r) => r.node).sort(), ['fc1/Relu', 'fc2/Relu', 'logits/Gemm'], JSON.stringify(rows));
  for (const row of comparable) assert.ok(row.sqnrDb > 30, `${row.node}: ${row.sqnrDb} dB`);
  for (const row of rows.filter((r) => !r.comparable)) assert.match(row.reason ?? '', /no value/);
});

test('q4 and fp16: the sizes the formats promise, accuracy close to float', () => {
  const q4 = json('quantize', model, '--dtype', 'q4', '--allow-slower', '--data', 'digits', '--runs', '5');
  assert.equal(path.basename(q4['output']), 'model_q4.onnx');
  assert.ok(metric(q4, 'size.bytes').ratio < 0.2, `q4 size ratio ${metric(q4, 'size.bytes').ratio}`);
  assert.ok(metric(q4, 'accuracy').delta >= -0.02);
  const fp16 = json('quantize', model, '--dtype', 'fp16', '--allow-slower', '--data', 'digits', '--runs', '5');
  assert.ok(Math.abs(metric(fp16, 'size.bytes').ratio - 0.5) < 0.02, `fp16 size ratio ${metric(fp16, 'size.bytes').ratio}`);
  assert.ok(metric(fp16, 'fidelity.maxAbsError').candidate < 1e-2);
});

test('a tfjs folder gets tfjs weight quantization that tfjs itself loads back', () => {
  const out = json('quantize', path.join(dir, 'digits', 'tfjs'), '--dtype', 'uint8', '--data', 'digits');
  assert.equal(out['format'], 'tfjs');
  const manifest = JSON.parse(readFileSync(path.join(out['output'], 'model.json'), 'utf8'));
  const spec = manifest.weightsManifest[0].weights[0];
  assert.equal(spec.quantization.dtype, 'uint8');
  assert.ok(out['quantization'].bytesAfter / out['quantization'].bytesBefore < 0.26);
  assert.ok(out['quality'].candidate >= out['quality'].baseline - 0.01);
});

test('bad quantize input: one line, exit 2', () => {
  oneLineExit2(
    shrink('quantize', model, '--mode', 'static', '-o', path.join(dir, 'x.onnx')),
    /--calib-data: static quantization needs calibration data/,
  );
  oneLineExit2(
    shrink('quantize', model, '--dtype', 'q4', '--mode', 'static', '--calib-data', 'digits', '-o', path.join(dir, 'x.onnx')),
    /--mode: mode static applies to 8-bit/,
  );
  oneLineExit2(shrink('quantize', model, '--dtype', 'int3'), /Argument: dtype, Given: "int3", Choices: "q8"/);
  // Calibration samples of the wrong shape (3 values for a 64-input model), from a file the test writes.
  const wrong = path.join(dir, 'wrong-shape.json');
  writeFileSync(
    wrong,
    JSON.stringify({ x: Array.from({ length: 10 }, (_, i) => [i / 10, 0.5, 1 - i / 10]), y: Array.from({ length: 10 }, (_, i) => i % 2) }),
  );
  oneLineExit2(
    shrink('quantize', model, '--mode', 'static', '--calib-data', wrong, '-o', path.join(dir, 'x.onnx')),
    /wants \[batch, 64\].*\[3\]/,
  );
  oneLineExit2(shrink('quantize', model, '--exclude', 'no_such_node', '-o', path.join(dir, 'x.onnx')), /no_such_node/);
  oneLineExit2(
    shrink('quantize', model, '--max-accuracy-drop', '0.01', '-o', path.join(dir, 'x.onnx')),
    /--max-accuracy-drop: .*none is given \(give --data\)/,
  );
  assert.equal(existsSync(path.join(dir, 'x.onnx')), false);
});

// End-to-end: the real `shrink` process, real files, real onnxruntime and tfjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertOneLineError, runJson, runShrink } from './cli.fixture.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, encodeModel, attr } from '@shrink/core';

function shrink(...args: string[]) {
  return runShrink(dir, args, 120_000);
}
function json(...args: string[]): Record<string, unknown> {
  return runJson(dir, args);
}

let dir: string;
let trained: string;
// 4 -> 3 -> 2 MLP with known weights: 4*3 + 3*2 = 18 MACs, 12 + 3 + 6 + 2 = 23 params.
let tiny: string;
let trainOut: Record<string, unknown>;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-cli-'));
  const g = makeGraph({
    nodes: [
      makeNode('Gemm', ['x', 'w1', 'b1'], ['h'], { transB: 1 }),
      makeNode('Relu', ['h'], ['r']),
      makeNode('Gemm', ['r', 'w2', 'b2'], ['y'], { alpha: attr.float(1) }),
    ],
    inputs: [makeValueInfo('x', 'float32', ['batch', 4])],
    outputs: [makeValueInfo('y', 'float32', ['batch', 2])],
    initializers: [
      makeTensor(
        'w1',
        'float32',
        [3, 4],
        Array.from({ length: 12 }, (_, i) => (i - 6) / 10),
      ),
      makeTensor('b1', 'float32', [3], [0.1, 0, -0.1]),
      makeTensor('w2', 'float32', [3, 2], [1, 0, 0, 1, 0.5, 0.5]),
      makeTensor('b2', 'float32', [2], [0, 0]),
    ],
  });
  tiny = path.join(dir, 'tiny.onnx');
  writeFileSync(tiny, encodeModel(makeModel(g)));
  trained = path.join(dir, 'digits');
  const r = shrink('train', '--preset', 'digits-mlp', '--epochs', '3', '-o', trained, '--json');
  assert.equal(r.code, 0, r.stderr);
  trainOut = JSON.parse(r.stdout) as Record<string, unknown>;
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('--help lists every command and exits 0', () => {
  const r = shrink('--help');
  assert.equal(r.code, 0);
  for (const c of ['demo', 'train', 'info', 'bench', 'eval', 'compare', 'convert']) assert.match(r.stdout, new RegExp(`shrink ${c}`));
});

test('info --json: known params, MACs, ops and size of a builder-made model', () => {
  const info = json('info', tiny);
  assert.equal(info['params'], 23);
  assert.equal(info['macs'], 18);
  assert.deepEqual(info['ops'], { Gemm: 2, Relu: 1 });
  assert.equal(info['sizeBytes'], readFileSync(tiny).length);
  assert.deepEqual((info['inputs'] as unknown[])[0], { name: 'x', dtype: 'float32', shape: ['batch', 4] });
});

test('train wrote model.onnx and tfjs/ that agree; eval scores it in onnxruntime', () => {
  // The exported ONNX model computes what the trained tfjs model does (the bar: 1e-4).
  assert.ok((trainOut['maxAbsDiff'] as number) < 1e-4, `export max abs diff ${trainOut['maxAbsDiff']}`);
  assert.equal(trainOut['backend'], 'wasm');
  assert.ok(existsSync(path.join(trained, 'model.onnx')));
  assert.ok(existsSync(path.join(trained, 'tfjs', 'model.json')));
  const ev = json('eval', path.join(trained, 'model.onnx'), '--data', 'digits');
  assert.equal(ev['n'], 359);
  assert.ok((ev['accuracy'] as number) > 0.85, `accuracy ${ev['accuracy']}`);
  const evTfjs = json('eval', path.join(trained, 'tfjs'), '--data', 'digits');
  assert.equal(evTfjs['accuracy'], ev['accuracy']);
});

test('bench --json reports latency percentiles and energy', () => {
  const b = json('bench', tiny, '--runs', '10', '--batch', '4');
  const lat = b['latencyMs'] as Record<string, number>;
  assert.ok(lat['p50']! > 0 && lat['p50']! <= lat['p99']!);
  assert.equal(b['batch'], 4);
  assert.ok(((b['energy'] as Record<string, number>)['joulesPerInference'] ?? 0) > 0);
});

test('compare --json: a model against its own tfjs folder agrees on every sample', () => {
  const c = json('compare', path.join(trained, 'model.onnx'), path.join(trained, 'tfjs'), '--data', 'digits:100', '--runs', '5');
  const fid = c['fidelity'] as Record<string, number>;
  assert.equal(fid['top1Agreement'], 1);
  assert.ok(fid['maxAbsError']! < 1e-5);
  const report = c['report'] as { schema: string; candidates: Array<{ metrics: Record<string, { ratio?: number }> }> };
  assert.equal(report.schema, 'shrink.report/v1');
  assert.equal(report.candidates[0]!.metrics['params']!.ratio, 1);
});

test('convert --external-data writes model + .onnx_data that load back with the same numbers', () => {
  const out = path.join(dir, 'ext', 'model.onnx');
  const r = json('convert', path.join(trained, 'model.onnx'), '-o', out, '--external-data');
  assert.ok(existsSync(`${out}_data`));
  assert.ok((r['externalDataBytes'] as number) > 200_000);
  const a = json('info', path.join(trained, 'model.onnx'));
  const b = json('info', out);
  assert.equal(b['params'], a['params']);
  assert.ok((b['sizeBytes'] as number) >= (a['sizeBytes'] as number));
  const ev = json('eval', out, '--data', 'digits');
  assert.ok((ev['accuracy'] as number) > 0.85);
  assert.deepEqual(readdirSync(path.dirname(out)).sort(), ['model.onnx', 'model.onnx_data']);
});

test('bad input: one clear line and exit 2', () => {
  assertOneLineError(shrink('info', path.join(dir, 'missing.onnx')), /missing\.onnx: no such file/);
  const junk = path.join(dir, 'junk.onnx');
  writeFileSync(junk, 'this is not a model');
  assertOneLineError(shrink('info', junk), /junk\.onnx: not an ONNX model/);
  const truncated = path.join(dir, 'truncated.onnx');
  writeFileSync(truncated, readFileSync(tiny).subarray(0, 100));
  assertOneLineError(shrink('bench', truncated), /truncated\.onnx/);
  assertOneLineError(shrink('train', '--preset', 'nope', '-o', dir), /Argument: preset, Given: "nope", Choices: "seed", "digits-mlp"/);
  assertOneLineError(shrink('bench', tiny, '--batch', '0'), /--batch: must be > 0, got 0/);
  assertOneLineError(shrink('eval', tiny, '--data', 'nowhere.csv'), /nowhere\.csv/);
  assertOneLineError(shrink('eval', tiny, '--data', 'digits'), /wants \[batch, 4\].*\[64\]/);
  assertOneLineError(shrink('frobnicate'), /Unknown argument: frobnicate/);
  assertOneLineError(shrink('convert', tiny, '-o', tiny), /refusing to overwrite input/);
});

test('--verbose adds the stack trace to the one line', () => {
  const r = shrink('info', path.join(dir, 'missing.onnx'), '--verbose');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\n\s+at /);
});

test('convert --to tfjs imports an ONNX model into a tfjs folder that predicts the same', () => {
  const out = path.join(dir, 'imported');
  const r = json('convert', path.join(trained, 'model.onnx'), '--to', 'tfjs', '-o', out);
  assert.equal(r['to'], 'tfjs');
  assert.ok(existsSync(path.join(out, 'model.json')));
  const c = json('compare', path.join(trained, 'model.onnx'), out, '--data', 'digits:100', '--runs', '3');
  const fid = c['fidelity'] as Record<string, number>;
  assert.equal(fid['top1Agreement'], 1);
  assert.ok(fid['maxAbsError']! < 1e-5, `max abs error ${fid['maxAbsError']}`);
  assertOneLineError(shrink('convert', out, '--to', 'tfjs', '-o', out), /refusing to overwrite input/);
});

test('usage errors stop before any work: no file written, one line, exit 2', () => {
  const out = path.join(dir, 'typo');
  assertOneLineError(shrink('train', '--preset', 'digits-mlp', '--epoch', '1', '-o', out), /Unknown argument: epoch/);
  assert.equal(existsSync(out), false);
  assertOneLineError(shrink('convert', tiny, '-o', path.join(dir, 'c.onnx'), '--to', 'pytorch'), /Invalid values.*to.*pytorch/);
  assert.equal(existsSync(path.join(dir, 'c.onnx')), false);
  assertOneLineError(shrink('info'), /Not enough non-option arguments/);
  assertOneLineError(shrink('eval', tiny), /Missing required argument: data/);
  assertOneLineError(shrink('train', '--preset', 'seed', '-o', ''), /-o: needs a path/);
  assertOneLineError(shrink('train', '--preset', 'digits-mlp', '-o', tiny), /a file is in the way/);
  const r = shrink('info', tiny, '--json', '--bogus');
  assert.equal(r.stdout, '');
});

test('compare without --data still reports fidelity, on seeded synthetic inputs', () => {
  const c = json('compare', tiny, tiny, '--runs', '3');
  const fid = c['fidelity'] as Record<string, number>;
  assert.equal(fid['top1Agreement'], 1);
  assert.equal(fid['maxAbsError'], 0);
});

test('eval scores every row of a CSV file unless --split says otherwise', () => {
  const csv = path.join(dir, 'four.csv');
  // 4 features then a label in {0, 1}; 10 rows.
  const rows = Array.from({ length: 10 }, (_, i) => [i / 10, 1 - i / 10, 0.5, (i % 3) / 3, i % 2].join(','));
  writeFileSync(csv, `${rows.join('\n')}\n`);
  assert.equal(json('eval', tiny, '--data', csv)['n'], 10);
  assert.equal(json('eval', tiny, '--data', csv, '--split', 'test')['n'], 2);
});

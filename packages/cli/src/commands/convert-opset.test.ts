// `shrink convert --opset N` and quantize's in-memory upgrade of old models, on the committed torch
// fixtures (packages/core/src/opset/fixtures) and a hand-made opset-6 Gemm that onnxruntime refuses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { decodeModel, encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, opsetVersionOf } from '@shrink/core';
import { assertOneLineError, runJson, runShrink } from '../cli.fixture.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.join(here, '../../../core/src/opset/fixtures/cnn-opset9.onnx');
const FEEDS = JSON.parse(readFileSync(FIXTURE.replace(/\.onnx$/, '.json'), 'utf8')) as { feeds: { x: { dims: number[]; data: number[] } } };

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-convert-opset-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(file: string): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 4 });
  try {
    const x = new ort.Tensor('float32', Float32Array.from(FEEDS.feeds.x.data), FEEDS.feeds.x.dims);
    const r = await s.run({ x });
    return Object.fromEntries(s.outputNames.map((n) => [n, r[n]!.data as Float32Array]));
  } finally {
    await s.release();
  }
}

test('convert --opset 13 rewrites an opset-9 torch export, lists the changes, and computes the same', async () => {
  const out = path.join(dir, 'cnn13.onnx');
  const r = runShrink(dir, ['convert', FIXTURE, '-o', out, '--opset', '13']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^opset 9 → 13: \d+ nodes changed$/m);
  assert.match(r.stdout, /Upsample 2/); // the nearest and the linear one
  assert.match(r.stdout, /Softmax \d/);
  assert.equal(opsetVersionOf(decodeModel(readFileSync(out)), ''), 13);
  const [a, b] = [await run(FIXTURE), await run(out)];
  for (const [name, va] of Object.entries(a)) {
    const vb = b[name]!;
    assert.equal(vb.length, va.length, name);
    // Same float32 math through Resize instead of Upsample and Flatten+Softmax instead of the coerced Softmax.
    for (let i = 0; i < va.length; i++)
      assert.ok(Math.abs(va[i]! - vb[i]!) <= 1e-5 + 1e-4 * Math.abs(va[i]!), `${name}[${i}] ${va[i]} vs ${vb[i]}`);
  }
  const j = runJson(dir, ['convert', FIXTURE, '-o', path.join(dir, 'cnn17.onnx'), '--opset', '17']);
  assert.equal(j['opset'].from, 9);
  assert.equal(j['opset'].to, 17);
  assert.ok(j['opset'].counts.Clip >= 1 && j['opset'].counts.Pad >= 1 && j['opset'].counts.Slice >= 1);
  assert.ok(j['opset'].nodesChanged > 10);
});

test('convert --opset refuses targets outside 7..21, and models it cannot convert, in one line', () => {
  for (const n of ['6', '22', '12.5']) {
    assertOneLineError(
      runShrink(dir, ['convert', FIXTURE, '-o', path.join(dir, 'x.onnx'), '--opset', n]),
      /--opset: .* use an integer from 7 to 21/,
    );
  }
  // Scan-8's batch axis went away at 9 and has no rule: the node is named.
  const body = makeGraph({
    nodes: [makeNode('Identity', ['s_in'], ['s_out'])],
    inputs: [makeValueInfo('s_in', 'float32', [1])],
    outputs: [makeValueInfo('s_out', 'float32', [1])],
  });
  const scan = makeModel(
    makeGraph({
      nodes: [makeNode('Scan', ['', 'x'], ['y'], { body, num_scan_inputs: 1 }, { name: 'old_scan' })],
      inputs: [makeValueInfo('x', 'float32', [1, 1])],
      outputs: [makeValueInfo('y', 'float32', [1, 1])],
    }),
    { opset: 8, irVersion: 3 },
  );
  const file = path.join(dir, 'scan8.onnx');
  writeFileSync(file, encodeModel(scan));
  assertOneLineError(
    runShrink(dir, ['convert', file, '-o', path.join(dir, 'scan13.onnx'), '--opset', '13']),
    /node 'old_scan' \(Scan\) at step 8 → 9/,
  );
});

test('an opset-6 Gemm that onnxruntime refuses as it is converts to a model it runs', async () => {
  const m = makeModel(
    makeGraph({
      nodes: [makeNode('Gemm', ['a', 'b', 'c'], ['y'], { broadcast: 1 }, { name: 'gemm6' })],
      inputs: [makeValueInfo('a', 'float32', [2, 3])],
      outputs: [makeValueInfo('y', 'float32', [2, 2])],
      initializers: [makeTensor('b', 'float32', [3, 2], [1, 2, 3, 4, 5, 6]), makeTensor('c', 'float32', [2], [10, 20])],
    }),
    { opset: 6, irVersion: 3 },
  );
  const file = path.join(dir, 'gemm6.onnx');
  writeFileSync(file, encodeModel(m));
  assert.equal(
    runShrink(dir, ['convert', file, '-o', path.join(dir, 'same.onnx')]).code,
    2,
    'plain re-save should refuse what onnxruntime refuses',
  );
  const out = path.join(dir, 'gemm13.onnx');
  const r = runShrink(dir, ['convert', file, '-o', out, '--opset', '13']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Gemm 1/);
  const s = await ort.InferenceSession.create(out);
  const y = await s.run({ a: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 0, 1, 1]), [2, 3]) });
  await s.release();
  assert.deepEqual([...(y['y']!.data as Float32Array)], [11, 22, 18, 30]);
});

test('quantize --dtype q8 on an opset-9 model upgrades it to 13 with a note instead of refusing', () => {
  const out = path.join(dir, 'cnn9-q8.onnx');
  const j = runJson(dir, ['quantize', FIXTURE, '--dtype', 'q8', '-o', out, '--runs', '3', '--allow-slower']);
  const notes = JSON.stringify(j);
  assert.match(notes, /upgraded from opset 9 to 13 for quantization: \d+ nodes changed/);
  assert.equal(opsetVersionOf(decodeModel(readFileSync(out)), ''), 13);
});

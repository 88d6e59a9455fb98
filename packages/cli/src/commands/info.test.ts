// `shrink info` and the parameter count it shows: one count for a model in any dtype.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { attr, countParams, encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, type onnx } from '@shrink/core';
import { createRng } from '@shrink/core/data';
import { quantizeModel, resolveCalibration } from '@shrink/quantize/runtime';
import { runJson, runShrink } from '../cli.fixture.js';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-info-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function normal(n: number, scale: number, seed: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.normal() * scale);
}

/** x [batch, 1, 8, 8] -> Conv 4x3x3 -> Relu -> Flatten -> MatMul 256x32 + bias -> Relu -> Gemm 32x10: 8594 parameters. */
function convMlp(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'w1', 'b1'], ['c'], { pads: [1, 1, 1, 1] }),
        makeNode('Relu', ['c'], ['r']),
        makeNode('Flatten', ['r'], ['f']),
        makeNode('MatMul', ['f', 'w2'], ['m']),
        makeNode('Add', ['m', 'b2'], ['a']),
        makeNode('Relu', ['a'], ['h']),
        makeNode('Gemm', ['h', 'w3', 'b3'], ['y']),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 1, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 10])],
      initializers: [
        makeTensor('w1', 'float32', [4, 1, 3, 3], normal(36, 0.3, 1)),
        makeTensor('b1', 'float32', [4], normal(4, 0.1, 2)),
        makeTensor('w2', 'float32', [256, 32], normal(8192, 0.05, 3)),
        makeTensor('b2', 'float32', [32], normal(32, 0.1, 4)),
        makeTensor('w3', 'float32', [32, 10], normal(320, 0.2, 5)),
        makeTensor('b3', 'float32', [10], normal(10, 0.1, 6)),
      ],
    }),
  );
}
const CONV_MLP_PARAMS = 36 + 4 + 8192 + 32 + 320 + 10;

test('a model and its q8 dynamic, q8 static (QDQ), q4 and fp16 versions have the same parameter count', async () => {
  const model = convMlp();
  assert.equal(countParams(model).total, CONV_MLP_PARAMS);
  const calibration = await resolveCalibration('random:8', model);
  const variants: Array<[string, Parameters<typeof quantizeModel>[1]]> = [
    ['q8 dynamic', { dtype: 'q8' }],
    ['q8 dynamic per channel', { dtype: 'q8', perChannel: true }],
    ['q8 static', { dtype: 'q8', mode: 'static' }],
    ['q8 static per channel', { dtype: 'q8', mode: 'static', perChannel: true }],
    ['q4', { dtype: 'q4', blockSize: 32 }],
    ['fp16', { dtype: 'fp16' }],
  ];
  const seen: Record<string, Record<string, number>> = {};
  for (const [label, options] of variants) {
    const { model: q } = await quantizeModel(model, options, { calibration });
    const p = countParams(q);
    assert.equal(p.total, CONV_MLP_PARAMS, `${label}: ${JSON.stringify(p.paramsByDtype)}`);
    assert.ok(label === 'fp16' || p.quantParams > 0, `${label}: scales and zero points are counted apart`);
    seen[label] = p.paramsByDtype;
  }
  // The count is the same, the dtypes are not: the method really changed the model.
  assert.deepEqual(seen['fp16'], { float16: CONV_MLP_PARAMS });
  assert.ok((seen['q4']!['int4'] ?? 0) >= 8192, JSON.stringify(seen['q4']));
  assert.ok((seen['q8 static']!['int8'] ?? 0) + (seen['q8 static']!['uint8'] ?? 0) >= 8192 + 320, JSON.stringify(seen['q8 static']));
  assert.ok((seen['q8 static']!['int32'] ?? 0) > 0, `static QDQ biases are int32 codes: ${JSON.stringify(seen['q8 static'])}`);
});

test('info --json: weights inside If branches, params by dtype, MACs per sample with the assumed dims', () => {
  const branch = (w: string, n: number) =>
    makeGraph({
      nodes: [makeNode('MatMul', ['x', w], [`o_${w}`])],
      inputs: [],
      outputs: [makeValueInfo(`o_${w}`, 'float32')],
      initializers: [makeTensor(w, 'float32', [4, n], normal(4 * n, 0.5, n))],
    });
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Greater', ['sr', 'limit'], ['c']),
        makeNode('If', ['c'], ['y'], { then_branch: attr.graph(branch('wa', 8)), else_branch: attr.graph(branch('wb', 3)) }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 'sequence', 4]), makeValueInfo('sr', 'int64', [])],
      outputs: [makeValueInfo('y', 'float32')],
      initializers: [makeTensor('limit', 'int64', [], [8000])],
    }),
  );
  const file = path.join(dir, 'branches.onnx');
  writeFileSync(file, encodeModel(model));
  const info = runJson(dir, ['info', file]);
  assert.equal(info['params'], 32 + 12);
  assert.deepEqual(info['paramsByDtype'], { float32: 44 });
  assert.deepEqual(info['subgraphs'], { graphs: 2, tensors: 2, params: 44 });
  // 'sequence' is a token axis: 16 rows of 4 through the larger branch (4x8).
  assert.equal(info['macs'], 16 * 4 * 8);
  assert.deepEqual(info['macsAssumed'], { batch: 1, sequence: 16 });
  assert.equal(info['macsLowerBound'], false);
  assert.match(info['macsMethod'] as string, /per sample at batch=1, sequence=16/);
  const text = runShrink(dir, ['info', file]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /subgraphs\s+│ 2 \(If\/Loop\/Scan bodies\): 44 parameters in 2 stored tensors/);
  assert.match(text.stdout, /MACs\s+│ 512: MatMul\/Gemm\/Conv per sample at batch=1, sequence=16/);
});

test('info on a q4 model: every weight counted once, the quantized ops named, scales apart', async () => {
  const { model: q } = await quantizeModel(convMlp(), { dtype: 'q4', blockSize: 32 });
  const file = path.join(dir, 'q4.onnx');
  writeFileSync(file, encodeModel(q));
  const info = runJson(dir, ['info', file]);
  assert.equal(info['params'], CONV_MLP_PARAMS);
  assert.deepEqual(info['quantizedOps'], { 'MatMulNBits (4-bit, block 32)': countParams(q).quantizedOps['MatMulNBits (4-bit, block 32)'] });
  assert.ok((info['quantParams'] as number) >= 8192 / 32, `scales: ${info['quantParams']}`);
});

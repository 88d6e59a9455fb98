import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, type onnx } from '@shrink/core';
import { loadModel, saveModel } from '@shrink/core/io';
import { assertOneLineError, runJson, runShrink } from '../cli.fixture.js';

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * 0.05;
  });
}

function mlp(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      name: 'mlp',
      nodes: [makeNode('MatMul', ['x', 'W1'], ['h'], {}, { name: 'fc1' }), makeNode('MatMul', ['h', 'W2'], ['y'], {}, { name: 'fc2' })],
      inputs: [makeValueInfo('x', 'float32', ['batch', 256])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 64])],
      initializers: [
        makeTensor('W1', 'float32', [256, 512], values(256 * 512, 1)),
        makeTensor('W2', 'float32', [512, 64], values(512 * 64, 2)),
      ],
    }),
  );
}

test('shrink quantize --dtype q4 --stream: the streamed path writes the q4 model and its data file, without a measurement', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-stream-cli-'));
  try {
    await saveModel(mlp(), path.join(dir, 'model.onnx'), { externalData: true });
    const out = runJson(dir, ['quantize', '--dtype', 'q4', '--stream', 'model.onnx', '-o', 'q4.onnx']);
    assert.equal(out['output'], path.join(dir, 'q4.onnx'));
    assert.equal(out['quantization'].nodes.filter((n: { action: string }) => n.action === 'quantized').length, 2);
    assert.match(out['notes'][0], /not measured/);
    const q = await loadModel(path.join(dir, 'q4.onnx'));
    assert.deepEqual(
      q.graph!.node!.map((n) => n.opType),
      ['MatMulNBits', 'MatMulNBits'],
    );
    assert.ok(existsSync(path.join(dir, 'q4.onnx_data')));
    // Without --stream a model this small loads as before (and is measured).
    const plain = runJson(dir, ['quantize', '--dtype', 'q4', 'model.onnx', '-o', 'plain.onnx', '--allow-slower']);
    assert.ok(plain['report'] !== null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shrink quantize --stream: bad external data and options it cannot stream are one line, exit 2, nothing written', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-stream-cli-'));
  try {
    await saveModel(mlp(), path.join(dir, 'model.onnx'), { externalData: true });
    const q4 = ['quantize', '--dtype', 'q4', '--stream', 'model.onnx', '-o', 'out.onnx'];
    assertOneLineError(runShrink(dir, ['quantize', '--dtype', 'q4f16', '--stream', 'model.onnx', '-o', 'out.onnx']), /--stream: .*q4f16/);
    truncateSync(path.join(dir, 'model.onnx_data'), 100);
    assertOneLineError(runShrink(dir, q4), /tensor 'W1' wants bytes 0\.\.524288 of .*model\.onnx_data, which has only 100 bytes/);
    rmSync(path.join(dir, 'model.onnx_data'));
    assertOneLineError(runShrink(dir, q4), /external data file .*model\.onnx_data of tensor 'W1' does not exist/);
    assert.deepEqual(readdirSync(dir), ['model.onnx']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A pass command that changes nothing writes nothing: q4 on a model whose weights all sit in Conv (q4
// rewrites MatMul/Gemm), structured pruning where every layer is refused. One line says why, exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@shrink/core';
import { assertOneLineError, runShrink } from './cli.fixture.js';

function convOnly() {
  const w = Float32Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.sin(i));
  return makeModel(
    makeGraph({
      nodes: [makeNode('Conv', ['x', 'W'], ['y'], { pads: [1, 1, 1, 1] }, { name: 'conv' })],
      inputs: [makeValueInfo('x', 'float32', ['N', 3, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', ['N', 4, 8, 8])],
      initializers: [makeTensor('W', 'float32', [4, 3, 3, 3], w)],
    }),
    { opset: 17 },
  );
}

test('quantize q4 on a Conv-only model: exit 2, one line naming where the weights are, no file written', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'shrink-unchanged-'));
  const model = path.join(dir, 'conv.onnx');
  await writeFile(model, encodeModel(convOnly()));
  assertOneLineError(
    runShrink(dir, ['quantize', model, '--dtype', 'q4', '--runs', '2']),
    /quantize changed nothing, so no model was written: .*the model's weights sit in Conv ×1/,
  );
  assert.deepEqual(await readdir(dir), ['conv.onnx']);
  // q8 does change it, and writes.
  const r = runShrink(dir, ['quantize', model, '--dtype', 'q8', '--runs', '2']);
  assert.equal(r.code, 0, r.stderr);
});

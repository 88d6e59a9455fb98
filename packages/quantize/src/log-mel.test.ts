// q8 keeps a MatMul whose output reaches a Log (a log-mel filterbank) float: its run-time input spans
// decades, one uint8 scale per tensor flattens the quiet bins, and the log magnifies the loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@shrink/core';
import { createSession } from '@shrink/core/runtime';
import { quantizeModel } from './runtime/quantize-model.js';
import { lcgValues } from './test-data.fixture.js';

const BINS = 64;
const MELS = 16;

/** power spectrum x [N, 64] -> MatMul(mel [64, 16]) -> Clip(min 1e-10) -> Log -> y; and a plain MatMul head z. */
function logMel() {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'mel'], ['m'], {}, { name: 'filterbank' }),
        makeNode('Clip', ['m', 'floor'], ['mc']),
        makeNode('Log', ['mc'], ['y']),
        makeNode('MatMul', ['y', 'head'], ['z'], {}, { name: 'head' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', BINS])],
      outputs: [makeValueInfo('y', 'float32', ['N', MELS]), makeValueInfo('z', 'float32', ['N', 4])],
      initializers: [
        makeTensor(
          'mel',
          'float32',
          [BINS, MELS],
          lcgValues(BINS * MELS, 1).map((v) => Math.abs(v)),
        ),
        makeTensor('floor', 'float32', [], [1e-10]),
        makeTensor('head', 'float32', [MELS, 4], lcgValues(MELS * 4, 2)),
      ],
    }),
    { opset: 17 },
  );
}

test('q8: the filterbank MatMul before a Log stays float with the reason; the head after it is quantized; y keeps cosine ~1', async () => {
  const r = await quantizeModel(logMel(), { dtype: 'q8' });
  const row = (name: string) => r.report.nodes.find((n) => n.name === name);
  assert.notEqual(row('filterbank')?.action, 'quantized');
  assert.match(row('filterbank')?.reason ?? '', /reaches a Log/);
  assert.equal(row('head')?.action, 'quantized');
  // A power spectrum over six decades: loud low bins, quiet high ones.
  const x = Float32Array.from({ length: 4 * BINS }, (_, i) => 10 ** (3 - (6 * (i % BINS)) / BINS));
  const outs: Float32Array[] = [];
  for (const m of [logMel(), r.model]) {
    const s = await createSession(encodeModel(m));
    try {
      outs.push((await s.run({ x: { data: x, dims: [4, BINS] } }))['y']!.data as Float32Array);
    } finally {
      await s.release();
    }
  }
  const maxAbs = Math.max(...outs[0]!.map((v, i) => Math.abs(v - outs[1]![i]!)));
  assert.ok(maxAbs < 1e-4, `log-mel max abs error ${maxAbs}`);
});

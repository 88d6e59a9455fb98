// Every GPT-style export builds its causal mask with masked_fill(-inf): a -Infinity constant that is no
// weight. Quantization checks only the tensors it quantizes, so such a model quantizes, and a weight that
// does hold an infinity is still refused, by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, attr, type onnx } from '@shrink/core';
import { createSession } from '@shrink/core/runtime';
import { lcgValues } from '../test-data.fixture.js';
import { quantizeModel } from './quantize-model.js';

const T = 4;
const D = 32;

/** Softmax(x·W + mask) with mask[i][j] = -Infinity above the diagonal, in a Constant node as PyTorch writes it. */
function maskedAttention(w: Float32Array): onnx.ModelProto {
  const mask = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -Infinity;
  return makeModel(
    makeGraph({
      nodes: [
        makeNode(
          'Constant',
          [],
          ['mask'],
          { value: attr.tensor(makeTensor('mask', 'float32', [T, T], mask)) },
          { name: '/blocks.0/Constant_10' },
        ),
        makeNode('MatMul', ['x', 'W'], ['scores'], undefined, { name: 'scores' }),
        makeNode('Add', ['scores', 'mask'], ['masked']),
        makeNode('Softmax', ['masked'], ['y'], { axis: -1 }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, T, D])],
      outputs: [makeValueInfo('y', 'float32', [1, T, T])],
      initializers: [makeTensor('W', 'float32', [D, T], w)],
    }),
    { opset: 17 },
  );
}

async function outputOf(model: onnx.IModelProto, x: Float32Array): Promise<Float32Array> {
  const s = await createSession(encodeModel(model));
  try {
    return (await s.run({ x: { data: x, dims: [1, T, D] } }))['y']!.data as Float32Array;
  } finally {
    await s.release();
  }
}

test('a causal mask of -Infinity is not a weight: q8 and q4 quantize the MatMul and keep the mask; outputs within tolerance', async () => {
  const model = maskedAttention(lcgValues(D * T, 3, 0.3));
  const x = lcgValues(T * D, 5);
  const want = await outputOf(model, x);
  for (const dtype of ['q8', 'q4'] as const) {
    const r = await quantizeModel(model, { dtype, blockSize: 16 });
    const got = await outputOf(r.model, x);
    assert.equal(got.length, want.length);
    for (let i = 0; i < got.length; i++) {
      const row = Math.floor(i / T) % T;
      const col = i % T;
      // Masked positions stay exactly 0; the rest are probabilities within 0.05 (q4: 16-value blocks of a 32-deep dot product).
      if (col > row) assert.equal(got[i], 0, `${dtype} [${row}, ${col}]`);
      else assert.ok(Math.abs(got[i]! - want[i]!) <= 0.05, `${dtype} [${row}, ${col}]: ${got[i]} vs ${want[i]}`);
    }
    assert.ok(
      r.report.nodes.some((l) => l.name === 'scores' && l.action === 'quantized'),
      `${dtype}: ${JSON.stringify(r.report.nodes)}`,
    );
  }
});

test('an infinite weight is still refused, naming the tensor', async () => {
  const w = lcgValues(D * T, 3, 0.3);
  w[9] = -Infinity;
  for (const dtype of ['q8', 'q4'] as const) {
    await assert.rejects(quantizeModel(maskedAttention(w), { dtype, blockSize: 16 }), {
      code: 'INVALID_MODEL',
      message: /tensor 'W' holds -Infinity at flat index 9; integer quantization needs finite weights/,
    });
  }
});

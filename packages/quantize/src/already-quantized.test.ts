import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, ShrinkError, type onnx } from '@shrink/core';
import { quantizeModel } from './runtime/quantize-model.js';
import { quantizeOptionsSchema } from './options.js';
import { convertToFloat16 } from './fp16.js';
import { lcgValues } from './test-data.fixture.js';
import { assertCosine, runAll } from './real-graphs.fixture.js';

/** x [4, 128] -> MatMul W1 -> Relu -> MatMul W2 -> y [4, 32]. */
function mlp(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      name: 'mlp',
      nodes: [
        makeNode('MatMul', ['x', 'W1'], ['h'], {}, { name: 'fc1' }),
        makeNode('Relu', ['h'], ['a'], {}, { name: 'relu' }),
        makeNode('MatMul', ['a', 'W2'], ['y'], {}, { name: 'fc2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [4, 128])],
      outputs: [makeValueInfo('y', 'float32', [4, 32])],
      initializers: [
        makeTensor('W1', 'float32', [128, 64], lcgValues(128 * 64, 1, 0.15)),
        makeTensor('W2', 'float32', [64, 32], lcgValues(64 * 32, 2, 0.2)),
      ],
    }),
    { opset: 17 },
  );
}

/** The mlp with W1 stored as int8 codes behind a per-channel DequantizeLinear (a QDQ weight), and a QDQ pair on its activation. */
function qdqMlp(): onnx.ModelProto {
  const m = mlp();
  const g = m.graph!;
  const w = lcgValues(128 * 64, 1, 0.15);
  const scales = Float32Array.from(
    { length: 64 },
    (_, n) => Math.max(...Array.from({ length: 128 }, (_, k) => Math.abs(w[k * 64 + n]!))) / 127,
  );
  const codes = Int8Array.from(w, (v, i) => Math.round(v / scales[i % 64]!));
  g.initializer = [
    makeTensor('W1_q', 'int8', [128, 64], codes),
    makeTensor('W1_s', 'float32', [64], scales),
    makeTensor('W1_z', 'int8', [64], new Int8Array(64)),
    makeTensor('a_s', 'float32', [], [0.02]),
    makeTensor('a_z', 'uint8', [], [0]),
    g.initializer![1]!,
  ];
  g.node = [
    makeNode('DequantizeLinear', ['W1_q', 'W1_s', 'W1_z'], ['W1'], { axis: 1 }, { name: 'w1_dq' }),
    makeNode('MatMul', ['x', 'W1'], ['h'], {}, { name: 'fc1' }),
    makeNode('Relu', ['h'], ['a0'], {}, { name: 'relu' }),
    makeNode('QuantizeLinear', ['a0', 'a_s', 'a_z'], ['a_q'], {}, { name: 'a_q' }),
    makeNode('DequantizeLinear', ['a_q', 'a_s', 'a_z'], ['a'], {}, { name: 'a_dq' }),
    makeNode('MatMul', ['a', 'W2'], ['y'], {}, { name: 'fc2' }),
  ];
  return m;
}

const feeds = { x: { data: lcgValues(4 * 128, 3, 1), dims: [4, 128] } };

test('a q4 (MatMulNBits) model is refused in one line naming what is there; requantize quantizes it again from its weights', async () => {
  const q4 = (await quantizeModel(mlp(), { dtype: 'q4' })).model;
  await assert.rejects(
    quantizeModel(q4, { dtype: 'q8' }),
    (e: ShrinkError) =>
      e.option === 'requantize' &&
      /model is already quantized: 2 MatMulNBits node\(s\) \(e\.g\. node 'fc1_Q4'\); requantize/.test(e.message),
  );
  const r = await quantizeModel(q4, { dtype: 'q8', requantize: true });
  assert.equal(r.report.nodes.filter((n) => n.action === 'quantized').length, 2);
  assert.match(r.report.notes[0]!, /2 MatMulNBits back to MatMul/);
  // Against the q4 model it came from: the second rounding (int8) is small next to the first (int4).
  assertCosine(await runAll(r.model, feeds), await runAll(q4, feeds), 0.999, 'q4 -> q8');
  assertCosine(await runAll(r.model, feeds), await runAll(mlp(), feeds), 0.99, 'q4 -> q8 vs float');
});

test('QDQ weights and activation pairs: refused, or dequantized (weight to float, pair removed) and quantized to q4', async () => {
  const model = qdqMlp();
  await assert.rejects(
    quantizeModel(model, { dtype: 'q4' }),
    /model is already quantized: 2 DequantizeLinear node\(s\) \(e\.g\. node 'w1_dq'\)/,
  );
  const r = await quantizeModel(model, { dtype: 'q4', requantize: true });
  assert.match(r.report.notes[0]!, /1 weight\(s\) dequantized from DequantizeLinear, 1 activation QDQ pair\(s\) removed/);
  assert.equal(r.report.nodes.filter((n) => n.action === 'quantized').length, 2);
  const ops = r.model.graph!.node!.map((n) => n.opType);
  assert.ok(!ops.includes('DequantizeLinear') && !ops.includes('QuantizeLinear'), ops.join(' '));
  assertCosine(await runAll(r.model, feeds), await runAll(mlp(), feeds), 0.99, 'qdq -> q4 vs float');
});

test('float16 is not "already quantized"; requantize is a schema option (so a flag and a config key)', async () => {
  assert.equal(quantizeOptionsSchema.parse({}).requantize, false);
  const half = convertToFloat16(mlp(), {}).model;
  const r = await quantizeModel(half, { dtype: 'q8' });
  assert.equal(r.report.nodes.filter((n) => n.action === 'quantized').length, 2);
  const q8 = (await quantizeModel(mlp(), { dtype: 'q8' })).model;
  await assert.rejects(quantizeModel(q8, { dtype: 'q8' }), /already quantized: 2 DynamicQuantizeLinear, 2 MatMulInteger node\(s\)/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attr,
  float32ToFloat16,
  Graph,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  nodesDeep,
  ShrinkError,
  type onnx,
} from '@shrink/core';
import { quantizeModel } from './runtime/quantize-model.js';
import { dequantizeWeights } from './already-quantized.js';
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

/**
 * x [2, 8, 12, 12] -> Conv W1 (+B1) -> Relu -> If(flag: then Conv W2, else Conv W3) -> y: q8 stores every
 * Conv weight-only (int8 codes -> Cast -> Mul(scale) -> Conv), the If's in its branches.
 */
function convNet(): onnx.ModelProto {
  const branch = (name: string, w: string, seed: number): onnx.GraphProto =>
    makeGraph({
      name,
      nodes: [makeNode('Conv', ['a', w], [`${name}_y`], { pads: [1, 1, 1, 1] }, { name: `${name}_conv` })],
      inputs: [],
      outputs: [makeValueInfo(`${name}_y`, 'float32', [2, 16, 12, 12])],
      initializers: [makeTensor(w, 'float32', [16, 32, 3, 3], lcgValues(16 * 32 * 9, seed, 0.1))],
    });
  return makeModel(
    makeGraph({
      name: 'convnet',
      nodes: [
        makeNode('Conv', ['x', 'W1', 'B1'], ['h'], { pads: [1, 1, 1, 1] }, { name: 'conv1' }),
        makeNode('Relu', ['h'], ['a'], {}, { name: 'relu' }),
        makeNode(
          'If',
          ['flag'],
          ['y'],
          { then_branch: attr.graph(branch('then', 'W2', 2)), else_branch: attr.graph(branch('else', 'W3', 3)) },
          { name: 'branch' },
        ),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, 8, 12, 12]), makeValueInfo('flag', 'bool', [])],
      outputs: [makeValueInfo('y', 'float32', [2, 16, 12, 12])],
      initializers: [
        makeTensor('W1', 'float32', [32, 8, 3, 3], lcgValues(32 * 72, 1, 0.2)),
        makeTensor('B1', 'float32', [32], lcgValues(32, 5, 0.1)),
      ],
    }),
    { opset: 17 },
  );
}

/** Every op type of the model, bodies included. */
const opsDeep = (m: onnx.IModelProto): string[] => nodesDeep(m.graph).map((n) => n.opType ?? '');

const convFeeds = (flag: boolean) => ({
  x: { data: lcgValues(2 * 8 * 144, 7, 1), dims: [2, 8, 12, 12] },
  flag: { data: Uint8Array.of(flag ? 1 : 0), dims: [] },
});

test("Shrink's own q8 weight-only Convs (int8 -> Cast -> Mul -> Conv, in If branches too) are refused for q8, q4 and fp16; requantize folds them to float first", async () => {
  const float = convNet();
  const q8 = (await quantizeModel(float, { dtype: 'q8' })).model;
  assert.equal(opsDeep(q8).filter((o) => o === 'Cast').length, 3, 'the fixture is what q8 writes: one Cast per Conv weight');
  for (const dtype of ['q8', 'q4', 'fp16'] as const) {
    await assert.rejects(
      quantizeModel(q8, { dtype }),
      (e: ShrinkError) =>
        e.option === 'requantize' &&
        /model is already quantized: 3 int8 weight-only \(codes -> Cast -> Mul\) node\(s\) \(e\.g\. node 'conv1'\)/.test(e.message),
      dtype,
    );
  }
  const want = { then: await runAll(float, convFeeds(true)), else: await runAll(float, convFeeds(false)) };
  const first = { then: await runAll(q8, convFeeds(true)), else: await runAll(q8, convFeeds(false)) };
  for (const dtype of ['q8', 'fp16'] as const) {
    const r = await quantizeModel(q8, { dtype, requantize: true });
    assert.match(r.report.notes[0]!, /^requantize: 3 Cast\+Mul weight code\(s\) back to float; quantized again/);
    // The Casts of int8 codes are gone (q8 writes new ones; fp16 keeps only its input/output Casts).
    const codes = Graph.from(r.model).initializers.filter((t) => t.dataType === 3).length;
    assert.equal(codes, dtype === 'q8' ? 1 : 0, `${dtype}: int8 initializers in the main graph`);
    for (const flag of [true, false]) {
      const side = flag ? 'then' : 'else';
      const got = await runAll(r.model, convFeeds(flag));
      // Against the q8 model it came from (the second rounding adds little), and the float model.
      assertCosine(got, first[side], dtype === 'q8' ? 0.9999 : 0.99999, `q8 -> ${dtype} (${side}) vs q8`);
      assertCosine(got, want[side], 0.999, `q8 -> ${dtype} (${side}) vs float`);
    }
    if (dtype === 'q8') assert.equal(r.report.nodes.filter((n) => n.action === 'quantized').length, 3);
  }
});

test('a q8 weight-only Conv computing in float16 (codes -> Cast -> Mul -> Cast(float16)) dequantizes to a float16 weight', async () => {
  const half = convertToFloat16(convNet(), {}).model;
  const q8 = (await quantizeModel(half, { dtype: 'q8' })).model;
  await assert.rejects(quantizeModel(q8, { dtype: 'q8' }), /already quantized: 3 int8 weight-only/);
  // The weights go back to float16 under the names the Convs read, so the model is the float16 one again.
  const d = dequantizeWeights(q8).model;
  const weights = (g: onnx.IGraphProto): onnx.ITensorProto[] => [
    ...(g.initializer ?? []).filter((t) => t.dims?.length === 4),
    ...(g.node ?? []).flatMap((n) => (n.attribute ?? []).flatMap((a) => (a.g ? weights(a.g) : []))),
  ];
  assert.deepEqual(
    weights(d.graph!).map((t) => t.dataType),
    [10, 10, 10],
  );
  assert.ok(!opsDeep(d).includes('Mul'), opsDeep(d).join(' '));
  const r = await quantizeModel(q8, { dtype: 'q8', requantize: true });
  assert.match(r.report.notes[0]!, /3 Cast\+Mul weight code\(s\) back to float/);
  for (const flag of [true, false]) {
    assertCosine(await runAll(r.model, convFeeds(flag)), await runAll(q8, convFeeds(flag)), 0.999, `half q8 -> q8 (flag ${flag})`);
  }
});

test('dynamic q8 (DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul) is refused; requantize turns it back into MatMul with the codes times their scales', async () => {
  const model = mlp();
  const q8 = (await quantizeModel(model, { dtype: 'q8', perChannel: true })).model;
  assert.ok(q8.graph!.node!.some((n) => n.opType === 'MatMulInteger'));
  await assert.rejects(
    () => quantizeModel(q8, { dtype: 'q4' }),
    (e: unknown) => e instanceof ShrinkError && /already quantized: .*MatMulInteger/.test(e.message),
  );
  const back = dequantizeWeights(q8);
  assert.match(back.notes[0]!, /2 dynamic MatMulInteger\/ConvInteger back to MatMul\/Conv/);
  const g = Graph.from(back.model);
  assert.deepEqual(
    g.nodes.map((n) => n.opType),
    ['MatMul', 'Relu', 'MatMul'],
    'no DynamicQuantizeLinear, Cast or scale Mul left',
  );
  // The dequantized weight is the q8 weight exactly: (codes - zero point) * scale per column.
  const q = Graph.from(q8);
  const mmi = q.nodes.find((n) => n.opType === 'MatMulInteger')!;
  const codes = q.readInitializer(mmi.input[1]!).data as Int8Array | Uint8Array;
  const zero = mmi.input[3] ? Array.from(q.readInitializer(mmi.input[3]).data as ArrayLike<number>, Number) : [0];
  const scaleMul = q.consumers(mmi.output[0]!).flatMap((c) => q.consumers(c.output[0]!))[0]!;
  const scales = q.producer(scaleMul.input[1]!)!;
  const wScale = q.readInitializer(scales.input[1]!).data as Float32Array;
  const w = g.readInitializer(g.nodes[0]!.input[1]!).data as Float32Array;
  for (const i of [0, 1, 63, 64, 8191]) {
    const c = i % 64;
    assert.equal(w[i], Math.fround((codes[i]! - zero[zero.length === 1 ? 0 : c]!) * wScale[wScale.length === 1 ? 0 : c]!), `element ${i}`);
  }
  assertCosine(await runAll(back.model, feeds), await runAll(model, feeds), 0.999, 'dequantized q8 vs float');
  const r = await quantizeModel(q8, { dtype: 'q4', requantize: true });
  assert.ok(r.model.graph!.node!.every((n) => n.opType !== 'MatMulInteger' && n.opType !== 'DynamicQuantizeLinear'));
  assertCosine(await runAll(r.model, feeds), await runAll(model, feeds), 0.99, 'q8 -> requantize q4 vs float');
});

test('q8 ConvInteger (--conv-format integer): requantize turns it back into a Conv with its attributes and per-channel weights', async () => {
  const C = 8;
  const conv = makeModel(
    makeGraph({
      nodes: [makeNode('Conv', ['x', 'W', 'B'], ['y'], { pads: [1, 1, 1, 1], strides: [2, 2] }, { name: 'conv' })],
      inputs: [makeValueInfo('x', 'float32', [1, C, 9, 9])],
      outputs: [makeValueInfo('y', 'float32', [1, C, 5, 5])],
      initializers: [
        makeTensor(
          'W',
          'float32',
          [C, C, 3, 3],
          lcgValues(C * C * 9, 4, 0.3).map((v, i) => v * (1 + Math.floor(i / (C * 9)))),
        ),
        makeTensor('B', 'float32', [C], lcgValues(C, 5, 0.1)),
      ],
    }),
    { opset: 17 },
  );
  const xFeeds = { x: { data: lcgValues(C * 81, 6, 1), dims: [1, C, 9, 9] } };
  const q8 = (await quantizeModel(conv, { dtype: 'q8', convFormat: 'integer' })).model;
  assert.ok(q8.graph!.node!.some((n) => n.opType === 'ConvInteger'));
  const back = dequantizeWeights(q8);
  const node = back.model.graph!.node!.find((n) => n.opType === 'Conv');
  assert.ok(node, back.model.graph!.node!.map((n) => n.opType).join(' '));
  assert.ok(!back.model.graph!.node!.some((n) => n.opType === 'ConvInteger' || n.opType === 'DynamicQuantizeLinear'));
  assert.deepEqual(node.attribute!.map((a) => a.name).sort(), ['pads', 'strides']);
  // Channels differ in scale by up to 8x: a scale applied to the wrong channel would show at once.
  assertCosine(await runAll(back.model, xFeeds), await runAll(conv, xFeeds), 0.999, 'dequantized ConvInteger vs float');
});

test('codes -> Cast(float16) -> Mul(float16 scale): requantize folds them to a float16 weight, the type the Mul wrote', async () => {
  const [K, N] = [8, 4];
  const half = (v: ArrayLike<number>): Uint16Array => float32ToFloat16(Float32Array.from(v));
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Cast', ['x'], ['x16'], { to: attr.int(10) }, { name: 'x_to_half' }),
        makeNode('Cast', ['codes'], ['codes16'], { to: attr.int(10) }, { name: 'codes_cast' }),
        makeNode('Mul', ['codes16', 'scale'], ['w'], {}, { name: 'scale_mul' }),
        makeNode('MatMul', ['x16', 'w'], ['y16'], {}, { name: 'mm' }),
        makeNode('Cast', ['y16'], ['y'], { to: attr.int(1) }, { name: 'y_to_float' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, K])],
      outputs: [makeValueInfo('y', 'float32', [2, N])],
      initializers: [
        makeTensor(
          'codes',
          'int8',
          [K, N],
          Int8Array.from(lcgValues(K * N, 7), (v) => Math.round(127 * v)),
        ),
        makeTensor('scale', 'float16', [N], half([0.01, 0.02, 0.005, 0.04])),
      ],
    }),
    { opset: 17 },
  );
  const feeds = { x: { data: lcgValues(2 * K, 8, 1), dims: [2, K] } };
  const d = dequantizeWeights(model).model;
  assert.deepEqual(
    d.graph!.initializer!.map((t) => [t.name, t.dataType]),
    [['w', 10]],
  );
  assertCosine(await runAll(d, feeds), await runAll(model, feeds), 0.9999, 'float16 Cast+Mul dequantized');
});

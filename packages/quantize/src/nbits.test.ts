import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attr,
  attrInt,
  encodeModel,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  parseOptions,
  readTensor,
  ShrinkError,
  type onnx,
} from '@shrink/core';
import { createSession } from '@shrink/core/runtime';
import { resolveData } from '@shrink/core/data';
import { exportToOnnx, trainPreset } from '@shrink/core/tfjs';
import { quantizeOptionsSchema, type QuantizeOptions } from './options.js';
import { quantizeWeightOnly } from './nbits.js';
import { dequantizeBlockwise, type NBits } from './ops/nbits-blocks.js';
import { accuracyOf, lcgValues, relError } from './test-data.fixture.js';

function opts(o: QuantizeOptions & { bits: NBits; float16?: boolean }) {
  const { bits, float16, ...rest } = o;
  return { ...parseOptions(quantizeOptionsSchema, rest), bits, ...(float16 ? { float16 } : {}) };
}

/**
 * x [B, D] -> MatMul W1 + b1 -> Relu -> Gemm (W2 stored [H2, H], transB, alpha 0.5, beta 2, bias) -> Relu
 * -> MatMul W3 -> y [B, C]: both handled op types, a transposed weight and folded alpha/beta.
 */
function mlp(D: number, H: number, H2: number, C: number): onnx.ModelProto {
  const glorot = (fanIn: number, fanOut: number) => Math.sqrt(6 / (fanIn + fanOut));
  return makeModel(
    makeGraph({
      name: 'mlp',
      nodes: [
        makeNode('MatMul', ['x', 'W1'], ['h1'], {}, { name: 'fc1' }),
        makeNode('Add', ['h1', 'b1'], ['h1b'], {}, { name: 'fc1_bias' }),
        makeNode('Relu', ['h1b'], ['a1'], {}, { name: 'relu1' }),
        makeNode('Gemm', ['a1', 'W2', 'b2'], ['h2'], { transB: 1, alpha: attr.float(0.5), beta: attr.float(2) }, { name: 'fc2' }),
        makeNode('Relu', ['h2'], ['a2'], {}, { name: 'relu2' }),
        makeNode('MatMul', ['a2', 'W3'], ['y'], {}, { name: 'fc3' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', D])],
      outputs: [makeValueInfo('y', 'float32', ['batch', C])],
      initializers: [
        makeTensor('W1', 'float32', [D, H], lcgValues(D * H, 1, glorot(D, H))),
        makeTensor('b1', 'float32', [H], lcgValues(H, 2, 0.1)),
        makeTensor('W2', 'float32', [H2, H], lcgValues(H2 * H, 3, 2 * glorot(H, H2))),
        makeTensor('b2', 'float32', [H2], lcgValues(H2, 4, 0.05)),
        makeTensor('W3', 'float32', [H2, C], lcgValues(H2 * C, 5, glorot(H2, C))),
      ],
    }),
  );
}

async function run(model: onnx.IModelProto, x: Float32Array, D: number): Promise<Float32Array> {
  const s = await createSession(encodeModel(model));
  try {
    return (await s.run({ x: { data: x, dims: [x.length / D, D] } }))['y']!.data as Float32Array;
  } finally {
    await s.release();
  }
}

const D = 96;
const H = 80;
const H2 = 48;
const C = 10;

/**
 * The float model MatMulNBits stands for: each MatMulNBits node becomes MatMul with its weights
 * dequantized by dequantizeBlockwise (+ Add of its bias). Comparing against it isolates the pass's
 * rewriting (transB, alpha, beta, bias) from quantization error.
 */
function dequantizedModel(model: onnx.ModelProto): onnx.ModelProto {
  const g = model.graph!;
  const init = (name: string) => readTensor(g.initializer!.find((t) => t.name === name)!);
  const nodes: onnx.INodeProto[] = [];
  const extra: onnx.ITensorProto[] = [];
  for (const n of g.node!) {
    if (n.opType !== 'MatMulNBits') {
      nodes.push(n);
      continue;
    }
    const [a, b, s, zp, , bias] = n.input!;
    const bv = init(b!);
    const [N, nBlocks, blobSize] = bv.dims as [number, number, number];
    const bits = attrInt(n, 'bits', 4) as NBits;
    const w = {
      bits,
      blockSize: attrInt(n, 'block_size', 0),
      K: attrInt(n, 'K', 0),
      N,
      nBlocks,
      blobSize,
      packed: bv.data as Uint8Array,
      scales: init(s!).data as Float32Array,
      ...(zp ? { zeroPoints: init(zp).data as Uint8Array } : {}),
    };
    extra.push(makeTensor(`${b}_deq`, 'float32', [w.K, N], dequantizeBlockwise(w)));
    if (bias) {
      nodes.push(
        makeNode('MatMul', [a!, `${b}_deq`], [`${n.output![0]}_mm`]),
        makeNode('Add', [`${n.output![0]}_mm`, bias], [n.output![0]!]),
      );
    } else nodes.push(makeNode('MatMul', [a!, `${b}_deq`], [n.output![0]!]));
  }
  return makeModel(makeGraph({ nodes, inputs: g.input!, outputs: g.output!, initializers: [...g.initializer!, ...extra] }));
}

test('q4 MLP: MatMul and Gemm -> MatMulNBits with the original output names, equal to the dequantized float model', async () => {
  const model = mlp(D, H, H2, C);
  const x = lcgValues(16 * D, 9);
  const want = await run(model, x, D);
  const q4 = quantizeWeightOnly(model, opts({ dtype: 'q4', bits: 4 }));
  const nodes = q4.model.graph!.node!;
  assert.deepEqual(
    nodes.map((n) => n.opType),
    ['MatMulNBits', 'Add', 'Relu', 'MatMulNBits', 'Relu', 'MatMulNBits'],
  );
  assert.deepEqual(
    nodes.filter((n) => n.opType === 'MatMulNBits').map((n) => n.output![0]),
    ['h1', 'h2', 'y'],
  );
  const fc2 = nodes[3]!;
  assert.equal(fc2.domain, 'com.microsoft');
  assert.deepEqual(
    [
      attrInt(fc2, 'K', 0),
      attrInt(fc2, 'N', 0),
      attrInt(fc2, 'bits', 0),
      attrInt(fc2, 'block_size', 0),
      attrInt(fc2, 'accuracy_level', -1),
    ],
    [H, H2, 4, 32, 4],
  );
  assert.equal(fc2.input!.length, 6, 'A, B, scales, no zero points, no g_idx, bias');
  assert.ok(q4.model.opsetImport.some((o) => o.domain === 'com.microsoft' && Number(o.version) === 1));
  // The float weights are gone; nothing else was added.
  const inits = new Set(q4.model.graph!.initializer!.map((t) => t.name));
  for (const w of ['W1', 'W2', 'W3']) assert.ok(!inits.has(w), `${w} removed`);
  assert.deepEqual(
    q4.report.nodes.map((n) => [n.name, n.action]),
    [
      ['fc1', 'quantized'],
      ['fc2', 'quantized'],
      ['fc3', 'quantized'],
    ],
  );
  assert.deepEqual(q4.report.unhandled, { Add: 1, Relu: 2 });
  assert.equal(q4.report.mode, 'weight-only');
  assert.equal(q4.report.dtype, 'q4');

  // Random uniform weights lose ~6% per layer at 4 bits (step/sqrt(12) vs the weights' spread), three layers
  // ~11%, and accuracy_level 4 adds int8 activations: 20% RMS bounds it. 8 bits: 16x finer steps.
  const e4 = relError(await run(q4.model, x, D), want);
  assert.ok(e4 < 0.2, `q4 relative RMS error ${e4}`);
  const q8 = quantizeWeightOnly(model, opts({ bits: 8, symmetric: false }));
  const e8 = relError(await run(q8.model, x, D), want);
  assert.ok(e8 < 0.02, `8-bit relative RMS error ${e8}`);
  assert.ok(e8 < e4 / 4, `8-bit (${e8}) is far closer than 4-bit (${e4})`);

  // With float32 compute (accuracy_level 0) the quantized model is the dequantized float model, exactly
  // up to float32 summation order: transB, alpha, beta and the bias were folded in right.
  for (const o of [
    { bits: 4, symmetric: true },
    { bits: 4, symmetric: false, blockSize: 64 },
    { bits: 8, symmetric: false, blockSize: 128 },
  ] as const) {
    const q = quantizeWeightOnly(model, opts({ ...o, accuracyLevel: 0 }));
    assert.equal(attrInt(q.model.graph!.node![0]!, 'accuracy_level', -1), -1, 'level 0 is left out');
    const e = relError(await run(q.model, x, D), await run(dequantizedModel(q.model), x, D));
    assert.ok(e < 1e-5, `${JSON.stringify(o)}: vs dequantized model ${e}`);
  }
});

test('q4 block 32 of a weight-dominated MLP (784-512-512-10) encodes to <= 0.16 of the float32 bytes; 8-bit <= 0.29', () => {
  const model = mlp(784, 512, 512, 10);
  const float = encodeModel(model).length;
  const q4 = encodeModel(quantizeWeightOnly(model, opts({ dtype: 'q4', bits: 4, blockSize: 32 })).model).length;
  const q8 = encodeModel(quantizeWeightOnly(model, opts({ bits: 8, blockSize: 32 })).model).length;
  // 4-bit block 32: 16 code bytes + a 4-byte scale per 32 weights = 0.156 of float32.
  assert.ok(q4 / float <= 0.16, `q4 ratio ${q4 / float}`);
  assert.ok(q8 / float <= 0.29, `8-bit ratio ${q8 / float}`);
});

test('the input model is not mutated', () => {
  const model = mlp(D, H, H2, C);
  const before = encodeModel(model);
  quantizeWeightOnly(model, opts({ bits: 4, symmetric: false }));
  quantizeWeightOnly(model, opts({ bits: 4, float16: true }));
  assert.deepEqual(encodeModel(model), before);
});

test('skips what MatMulNBits cannot take, with reasons; --exclude; a shared weight is stored once', async () => {
  const K = 64;
  const N = 16;
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'W'], ['a'], {}, { name: 'shared1' }),
        makeNode('MatMul', ['x', 'W'], ['b'], {}, { name: 'shared2' }),
        makeNode('MatMul', ['x', 'x2'], ['c'], {}, { name: 'dynamic' }),
        makeNode('MatMul', ['x', 'W'], ['d'], {}, { name: 'keep_me' }),
        makeNode('Gemm', ['xt', 'W'], ['e'], { transA: 1 }, { name: 'gemm_ta' }),
        makeNode('Gemm', ['x', 'W', 'cb'], ['f'], {}, { name: 'gemm_2d_bias' }),
        makeNode('MatMul', ['xi', 'Wi'], ['g'], {}, { name: 'int_weight' }),
        makeNode('MatMul', ['x', 'W3d'], ['h'], {}, { name: 'batched_weight' }),
      ],
      inputs: [
        makeValueInfo('x', 'float32', [2, K]),
        makeValueInfo('x2', 'float32', [K, N]),
        makeValueInfo('xt', 'float32', [K, 2]),
        makeValueInfo('xi', 'int32', [2, K]),
      ],
      outputs: [
        ...['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((o) => makeValueInfo(o, o === 'g' ? 'int32' : 'float32', [2, N])),
        makeValueInfo('h', 'float32', [2, 2, N]),
      ],
      initializers: [
        makeTensor('W', 'float32', [K, N], lcgValues(K * N, 1)),
        makeTensor('cb', 'float32', [2, N], lcgValues(2 * N, 2)),
        makeTensor('Wi', 'int32', [K, N], new Int32Array(K * N)),
        makeTensor('W3d', 'float32', [2, K, N], lcgValues(2 * K * N, 3)),
      ],
    }),
  );
  const r = quantizeWeightOnly(model, opts({ bits: 4, exclude: ['keep_me'] }));
  const outcome = Object.fromEntries(r.report.nodes.map((n) => [n.name, n]));
  assert.equal(outcome['shared1']!.action, 'quantized');
  assert.equal(outcome['shared2']!.action, 'quantized');
  assert.match(outcome['dynamic']!.reason!, /weight 'x2' is a graph input \(it can change at run time\)/);
  assert.match(outcome['keep_me']!.reason!, /excluded \('keep_me' is in exclude\)/);
  assert.match(outcome['gemm_ta']!.reason!, /transA=1/);
  assert.match(outcome['gemm_2d_bias']!.reason!, /bias 'cb' has shape \[2, 16\]/);
  assert.match(outcome['int_weight']!.reason!, /weight 'Wi' is int32/);
  assert.match(outcome['batched_weight']!.reason!, /weight 'W3d' has rank 3/);
  const byName = (n: string) => r.model.graph!.node!.find((m) => m.output![0] === n)!;
  assert.equal(byName('a').input![1], byName('b').input![1], 'one packed copy of W');
  assert.equal(r.model.graph!.initializer!.filter((t) => t.name!.startsWith('W_Q4')).length, 1);
  assert.ok(
    r.model.graph!.initializer!.some((t) => t.name === 'W'),
    'W stays: float nodes still read it',
  );
  // The result still runs.
  const s = await createSession(encodeModel(r.model));
  await s.release();
  assert.throws(
    () => quantizeWeightOnly(model, opts({ bits: 4, include: ['nope'] })),
    (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT',
  );
});

test('non-finite weights are refused, naming the tensor', () => {
  const w = lcgValues(32 * 4, 1);
  w[7] = Infinity;
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'W'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', [1, 32])],
      outputs: [makeValueInfo('y', 'float32', [1, 4])],
      initializers: [makeTensor('W', 'float32', [32, 4], w)],
    }),
  );
  assert.throws(
    () => quantizeWeightOnly(model, opts({ bits: 4 })),
    (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_MODEL' && /'W'/.test(e.message),
  );
});

test('q4f16: float16 scales, bias and activations, float32 inputs/outputs; runs in onnxruntime within 20% RMS (as q4)', async () => {
  const model = mlp(D, H, H2, C);
  const x = lcgValues(16 * D, 9);
  const want = await run(model, x, D);
  const r = quantizeWeightOnly(model, opts({ dtype: 'q4f16', bits: 4, float16: true }));
  assert.equal(r.report.dtype, 'q4f16');
  assert.equal(r.report.clamped, 0);
  const g = r.model.graph!;
  const types = Object.fromEntries(g.initializer!.map((t) => [t.name, readTensor(t).dtype]));
  assert.equal(types['W1_scales'], 'float16');
  assert.equal(types['b1'], 'float16');
  assert.equal(types['W1_Q4'], 'uint8');
  assert.equal(g.input![0]!.type!.tensorType!.elemType, 1, 'input stays float32');
  assert.equal(g.output![0]!.type!.tensorType!.elemType, 1, 'output stays float32');
  assert.ok(r.report.notes.some((n) => /float16/.test(n)));
  const e = relError(await run(r.model, x, D), want);
  assert.ok(e < 0.2, `q4f16 relative RMS error ${e}`);
  const q4 = encodeModel(quantizeWeightOnly(model, opts({ bits: 4 })).model).length;
  assert.ok(encodeModel(r.model).length < q4, 'float16 scales make it smaller than q4');
  // --include picks the 4-bit nodes; the rest of the model still goes to float16.
  const some = quantizeWeightOnly(model, opts({ bits: 4, float16: true, include: ['fc1'] }));
  assert.deepEqual(
    some.report.nodes.map((n) => [n.name, n.action]),
    [
      ['fc1', 'quantized'],
      ['fc2', 'skipped'],
      ['fc3', 'skipped'],
    ],
  );
  assert.equal(some.model.graph!.initializer!.find((t) => t.name === 'W3')!.dataType, 10, 'W3 float16');
  assert.ok(relError(await run(some.model, x, D), want) < 0.2);
});

test('trained digits-mlp: q4 (block 32) accuracy within 2 points of float on the digits test set', async () => {
  const trained = await trainPreset('digits-mlp', { epochs: 3 });
  const model = exportToOnnx(trained.model).model;
  trained.model.dispose();
  const data = await resolveData('digits', { split: 'test' });
  const float = await accuracyOf(model, data);
  const q = quantizeWeightOnly(model, opts({ dtype: 'q4', bits: 4 }));
  assert.ok(q.report.nodes.filter((n) => n.action === 'quantized').length >= 3, 'fc1, fc2 and logits quantized');
  const q4 = await accuracyOf(q.model, data);
  assert.ok(float > 0.8, `float accuracy ${float}`);
  assert.ok(Math.abs(float - q4) <= 0.02, `float ${float} vs q4 ${q4}`);
  const q4f16 = await accuracyOf(quantizeWeightOnly(model, opts({ dtype: 'q4f16', bits: 4, float16: true })).model, data);
  assert.ok(Math.abs(float - q4f16) <= 0.02, `float ${float} vs q4f16 ${q4f16}`);
});

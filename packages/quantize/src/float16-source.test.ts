import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attrInt, float32ToFloat16, Graph, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, type onnx } from '@shrink/core';
import { quantizeModel } from './runtime/quantize-model.js';
import { convertToFloat16 } from './fp16.js';
import { lcgValues } from './test-data.fixture.js';
import { assertCosine, bytesOf, runAll } from './real-graphs.fixture.js';
import type { QuantizeOptions } from './options.js';

const half = (name: string, dims: number[], seed: number, scale: number) =>
  makeTensor(
    name,
    'float16',
    dims,
    float32ToFloat16(
      lcgValues(
        dims.reduce((a, b) => a * b, 1),
        seed,
        scale,
      ),
    ),
  );

/**
 * A model that computes in float16 between a Cast in and Casts out, as float16 exports do: Conv (with
 * bias) -> Relu -> MatMul + Add -> Relu -> Gemm (transB, bias), and a float16 embedding table looked up
 * by int64 ids. Two inputs, two outputs.
 */
function float16Net(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      name: 'f16net',
      nodes: [
        makeNode('Cast', ['x'], ['x16'], { to: 10 }, { name: 'in_cast' }),
        makeNode('Conv', ['x16', 'W0', 'b0'], ['c'], { pads: [1, 1, 1, 1] }, { name: 'conv' }),
        makeNode('Relu', ['c'], ['r'], {}, { name: 'relu0' }),
        makeNode('Reshape', ['r', 'flat'], ['f'], {}, { name: 'flatten' }),
        makeNode('MatMul', ['f', 'W1'], ['m'], {}, { name: 'fc1' }),
        makeNode('Add', ['m', 'b1'], ['mb'], {}, { name: 'fc1_bias' }),
        makeNode('Relu', ['mb'], ['h'], {}, { name: 'relu1' }),
        makeNode('Gemm', ['h', 'W2', 'b2'], ['g'], { transB: 1 }, { name: 'fc2' }),
        makeNode('Cast', ['g'], ['y'], { to: 1 }, { name: 'out_cast' }),
        makeNode('Gather', ['E', 'ids'], ['e16'], {}, { name: 'embed' }),
        makeNode('Cast', ['e16'], ['emb'], { to: 1 }, { name: 'emb_cast' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, 3, 8, 8]), makeValueInfo('ids', 'int64', [2, 4])],
      outputs: [makeValueInfo('y', 'float32', [2, 10]), makeValueInfo('emb', 'float32', [2, 4, 16])],
      initializers: [
        half('W0', [8, 3, 3, 3], 1, 0.3),
        half('b0', [8], 2, 0.1),
        makeTensor('flat', 'int64', [2], [2, 512]),
        half('W1', [512, 64], 3, 0.08),
        half('b1', [64], 4, 0.1),
        half('W2', [10, 64], 5, 0.25),
        half('b2', [10], 6, 0.1),
        half('E', [50, 16], 7, 1),
      ],
    }),
    { opset: 17 },
  );
}

/** float32 compute with float16 weights read through Cast(to=float): MatMul + Add, and a Gemm (transB, bias). */
function castWeightsNet(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      name: 'castweights',
      nodes: [
        makeNode('Cast', ['W1h'], ['W1'], { to: 1 }, { name: 'w1_cast' }),
        makeNode('Cast', ['b1h'], ['b1'], { to: 1 }, { name: 'b1_cast' }),
        makeNode('Cast', ['W2h'], ['W2'], { to: 1 }, { name: 'w2_cast' }),
        makeNode('Cast', ['b2h'], ['b2'], { to: 1 }, { name: 'b2_cast' }),
        makeNode('MatMul', ['x', 'W1'], ['m'], {}, { name: 'fc1' }),
        makeNode('Add', ['m', 'b1'], ['mb'], {}, { name: 'fc1_bias' }),
        makeNode('Relu', ['mb'], ['h'], {}, { name: 'relu1' }),
        makeNode('Gemm', ['h', 'W2', 'b2'], ['y'], { transB: 1 }, { name: 'fc2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 256])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 32])],
      initializers: [
        half('W1h', [256, 128], 11, 0.1),
        half('b1h', [128], 12, 0.1),
        half('W2h', [32, 128], 13, 0.15),
        half('b2h', [32], 14, 0.1),
      ],
    }),
    { opset: 17 },
  );
}

const netFeeds = {
  x: { data: lcgValues(2 * 3 * 8 * 8, 21, 1), dims: [2, 3, 8, 8] },
  ids: { data: BigInt64Array.from([0, 3, 49, 7, 12, 12, 30, 1].map(BigInt)), dims: [2, 4] },
};
const castFeeds = { x: { data: lcgValues(4 * 256, 22, 1), dims: [4, 256] } };

const quantizedCount = (r: Awaited<ReturnType<typeof quantizeModel>>) => r.report.nodes.filter((n) => n.action === 'quantized').length;

test('q8 of a model computing in float16: every weight quantized, fp16 activations kept, half the size, outputs close', async () => {
  const model = float16Net();
  const want = await runAll(model, netFeeds);
  const r = await quantizeModel(model, { dtype: 'q8' });
  assert.equal(quantizedCount(r), 4, JSON.stringify(r.report.nodes));
  // The float16 weights are gone (Conv's bias became a float32 constant for the float32 Add).
  const g = Graph.from(r.model);
  assert.ok(!g.initializers.some((t) => t.name === 'W1' || t.name === 'W0' || t.name === 'W2' || t.name === 'E'), 'float weights dropped');
  // The results are cast back: the Relus downstream still compute in float16.
  const backToHalf = g.nodes.filter((n) => n.opType === 'Cast' && attrInt(n, 'to', 0) === 10);
  assert.ok(backToHalf.length >= 3, `casts back to float16: ${backToHalf.length}`);
  const got = await runAll(r.model, netFeeds);
  assertCosine(got, want, 0.99, 'q8 from float16');
  const ratio = bytesOf(r.model) / bytesOf(model);
  assert.ok(ratio <= 0.55, `q8 is ${ratio.toFixed(3)}x the float16 model`);
});

for (const dtype of ['q4', 'q4f16'] as const) {
  test(`${dtype} of a model computing in float16: MatMul and Gemm become MatMulNBits with float16 scales and run`, async () => {
    const model = float16Net();
    const want = await runAll(model, netFeeds);
    const r = await quantizeModel(model, { dtype });
    assert.equal(quantizedCount(r), 2);
    const nbits = Graph.from(r.model).nodes.filter((n) => n.opType === 'MatMulNBits');
    assert.equal(nbits.length, 2);
    for (const n of nbits) assert.equal(Graph.from(r.model).dtypeOf(n.input[2]!), 'float16', `${n.name} scales`);
    assertCosine(await runAll(r.model, netFeeds), want, 0.99, dtype);
    assert.ok(bytesOf(r.model) / bytesOf(model) < 0.45);
  });
}

for (const [dtype, min, maxRatio] of [
  ['q8', 0.999, 0.55],
  ['q4', 0.99, 0.4],
] as const) {
  test(`${dtype} of float16 weights read through Cast(to=float): quantized from the float16 values, the Casts and float16 copies removed`, async () => {
    const model = castWeightsNet();
    const want = await runAll(model, castFeeds);
    const r = await quantizeModel(model, { dtype } satisfies QuantizeOptions);
    assert.equal(quantizedCount(r), 2, JSON.stringify(r.report.nodes));
    const g = Graph.from(r.model);
    assert.equal(g.nodes.filter((n) => n.opType === 'Cast' && ['w1_cast', 'w2_cast'].includes(n.name)).length, 0, 'weight Casts removed');
    assert.ok(!g.isInitializer('W1h') && !g.isInitializer('W2h'), 'float16 weights removed');
    assertCosine(await runAll(r.model, castFeeds), want, min, dtype);
    const ratio = bytesOf(r.model) / bytesOf(model);
    assert.ok(ratio <= maxRatio, `${dtype} is ${ratio.toFixed(3)}x the float16 model`);
  });
}

test("Shrink's own float16 output quantizes to q8: weights quantized, outputs close to the float32 original", async () => {
  const model = castWeightsNet();
  const want = await runAll(model, castFeeds);
  const f16 = convertToFloat16(model, {}).model;
  const r = await quantizeModel(f16, { dtype: 'q8' });
  assert.equal(quantizedCount(r), 2, JSON.stringify(r.report.nodes));
  const halfWeights = r.model.graph!.initializer!.filter((t) => t.dataType === 10 && (t.dims ?? []).length === 2);
  assert.deepEqual(
    halfWeights.map((t) => t.name),
    [],
    'no float16 weight matrices left',
  );
  assert.ok(bytesOf(r.model) / bytesOf(f16) <= 0.55, `q8 is ${(bytesOf(r.model) / bytesOf(f16)).toFixed(3)}x the float16 model`);
  assertCosine(await runAll(r.model, castFeeds), want, 0.999, 'fp16 then q8');
});

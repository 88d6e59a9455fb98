import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, type onnx } from '@shrink/core';
import { quantizeModel } from './runtime/quantize-model.js';
import { lcgValues } from './test-data.fixture.js';
import { assertCosine, bytesOf, runAll } from './real-graphs.fixture.js';

const V = 400;
const D = 64;

/** A tied embedding: E looked up by Gather, and multiplied by as the output head (through Transpose, or Gemm transB). */
function tiedModel(head: 'transpose' | 'gemm'): onnx.ModelProto {
  const headNodes =
    head === 'transpose'
      ? [
          makeNode('Transpose', ['E'], ['Et'], { perm: [1, 0] }, { name: 'tie' }),
          makeNode('MatMul', ['h', 'Et'], ['logits'], {}, { name: 'lm_head' }),
        ]
      : [makeNode('Gemm', ['h', 'E'], ['logits'], { transB: 1 }, { name: 'lm_head' })];
  return makeModel(
    makeGraph({
      name: `tied_${head}`,
      nodes: [
        makeNode('Gather', ['E', 'ids'], ['emb'], {}, { name: 'embed' }),
        makeNode('Reshape', ['emb', 'flat'], ['e2'], {}, { name: 'flatten' }),
        makeNode('Tanh', ['e2'], ['h'], {}, { name: 'act' }),
        ...headNodes,
      ],
      inputs: [makeValueInfo('ids', 'int64', [2, 5])],
      outputs: [makeValueInfo('emb', 'float32', [2, 5, D]), makeValueInfo('logits', 'float32', [10, V])],
      initializers: [makeTensor('E', 'float32', [V, D], lcgValues(V * D, 1, 1)), makeTensor('flat', 'int64', [2], [-1, D])],
    }),
    { opset: 17 },
  );
}

/** One weight W read by two MatMuls. */
function twiceModel(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      name: 'twice',
      nodes: [makeNode('MatMul', ['x', 'W'], ['a'], {}, { name: 'mm_a' }), makeNode('MatMul', ['y', 'W'], ['b'], {}, { name: 'mm_b' })],
      inputs: [makeValueInfo('x', 'float32', [3, 128]), makeValueInfo('y', 'float32', [3, 128])],
      outputs: [makeValueInfo('a', 'float32', [3, 96]), makeValueInfo('b', 'float32', [3, 96])],
      initializers: [makeTensor('W', 'float32', [128, 96], lcgValues(128 * 96, 2, 0.2))],
    }),
    { opset: 17 },
  );
}

const ids = { data: BigInt64Array.from([0, 5, 399, 17, 5, 3, 250, 1, 99, 42].map(BigInt)), dims: [2, 5] };
/** Initializers with at least `n` elements: the weights, however stored. */
const bigTensors = (m: onnx.ModelProto, n: number) =>
  m.graph!.initializer!.filter((t) => (t.dims ?? []).reduce<number>((a, b) => a * Number(b), 1) >= n).map((t) => t.name);

for (const head of ['transpose', 'gemm'] as const) {
  test(`q8 of a tied embedding (${head} head): Gather and head share one int8 table; a quarter of the bytes; outputs match`, async () => {
    const model = tiedModel(head);
    const r = await quantizeModel(model, { dtype: 'q8' });
    assert.deepEqual(
      r.report.nodes.map((n) => [n.name, n.action]),
      [
        ['embed', 'quantized'],
        ['lm_head', 'quantized'],
      ],
    );
    assert.deepEqual(bigTensors(r.model, V * D), ['E_quantized'], 'one set of codes, no float or transposed copy');
    const ratio = bytesOf(r.model) / bytesOf(model);
    assert.ok(ratio < 0.3, `q8 is ${ratio.toFixed(3)}x (a second copy would make it > 0.5x)`);
    assertCosine(await runAll(r.model, { ids }), await runAll(model, { ids }), 0.999, `tied ${head}`);
  });
}

test('q8 with perChannel: the tied table stays per tensor (one table serves both axes)', async () => {
  const model = tiedModel('transpose');
  const r = await quantizeModel(model, { dtype: 'q8', perChannel: true });
  assert.deepEqual(bigTensors(r.model, V * D), ['E_quantized']);
  assertCosine(await runAll(r.model, { ids }), await runAll(model, { ids }), 0.999, 'tied per channel');
});

for (const dtype of ['q8', 'q4'] as const) {
  test(`${dtype}: one weight read by two MatMuls is quantized once`, async () => {
    const model = twiceModel();
    const r = await quantizeModel(model, { dtype });
    assert.equal(r.report.nodes.filter((n) => n.action === 'quantized').length, 2);
    assert.equal(bigTensors(r.model, 128 * 96 * (dtype === 'q4' ? 0.5 : 1)).length, 1, 'one codes tensor');
    const ratio = bytesOf(r.model) / bytesOf(model);
    assert.ok(ratio < (dtype === 'q4' ? 0.2 : 0.3), `${dtype} is ${ratio.toFixed(3)}x`);
    const feeds = { x: { data: lcgValues(3 * 128, 3, 1), dims: [3, 128] }, y: { data: lcgValues(3 * 128, 4, 1), dims: [3, 128] } };
    assertCosine(await runAll(r.model, feeds), await runAll(model, feeds), dtype === 'q4' ? 0.99 : 0.999, `${dtype} twice`);
  });
}

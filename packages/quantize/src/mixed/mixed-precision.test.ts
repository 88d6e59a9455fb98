// Mixed precision through the quantize dispatch, run in onnxruntime: the weight that loses most at 4 bits
// is the one raised to 8, the output is closer to float than uniform q4, and a size budget holds on the
// written bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, ShrinkError, type onnx } from '@shrink/core';
import { quantizeModel } from '../runtime/quantize-model.js';
import type { FeedSet } from '@shrink/core/runtime';
import { lcgValues, relError, runOutput } from '../test-data.fixture.js';

const D = 128;

/** x -> MatMul Wa (smooth) -> MatMul Wb (one large value per 32-block column: coarse 4-bit codes) -> y. */
function twoLayers(): onnx.ModelProto {
  const wb = lcgValues(D * D, 7, 0.05);
  for (let k = 0; k < D; k += 32) for (let n = 0; n < D; n++) wb[k * D + n] = 1.5;
  return makeModel(
    makeGraph({
      name: 'two',
      nodes: [makeNode('MatMul', ['x', 'Wa'], ['h'], {}, { name: 'fa' }), makeNode('MatMul', ['h', 'Wb'], ['y'], {}, { name: 'fb' })],
      inputs: [makeValueInfo('x', 'float32', ['batch', D])],
      outputs: [makeValueInfo('y', 'float32', ['batch', D])],
      initializers: [makeTensor('Wa', 'float32', [D, D], lcgValues(D * D, 3, 0.15)), makeTensor('Wb', 'float32', [D, D], wb)],
    }),
  );
}

const bitsOf = (m: onnx.IModelProto): Record<string, number> =>
  Object.fromEntries(
    (m.graph?.node ?? [])
      .filter((n) => n.opType === 'MatMulNBits')
      .map((n) => [n.name, Number(n.attribute?.find((a) => a.name === 'bits')?.i)]),
  );

const x = lcgValues(16 * D, 11, 1);
const feeds = { x: { data: x, dims: [16, D] } };

test('targetBits 6 of two equal weights raises the one 4 bits hurts most, and the output is closer to float', async () => {
  const model = twoLayers();
  const want = await runOutput(model, feeds);
  const uniform = await quantizeModel(model, { dtype: 'q4', blockSize: 32, accuracyLevel: 0 });
  const mixed = await quantizeModel(model, { dtype: 'q4', blockSize: 32, accuracyLevel: 0, targetBits: 6 });
  assert.deepEqual(bitsOf(uniform.model), { fa_Q4: 4, fb_Q4: 4 });
  assert.deepEqual(bitsOf(mixed.model), { fa_Q4: 4, fb_Q8: 8 });
  const eu = relError(await runOutput(uniform.model, feeds), want);
  const em = relError(await runOutput(mixed.model, feeds), want);
  // Measured: uniform 0.133, mixed 0.062 (only Wa's 4-bit error is left).
  assert.ok(em < eu * 0.7, `mixed ${em} vs uniform ${eu}`);
  const note = mixed.report.notes.find((n) => n.startsWith('mixed precision (targetBits 6)'));
  assert.match(note ?? '', /1 of 2 weight\(s\) raised above 4 bits, most valuable first: Wb; 6\.00 stored code bits/);
  // The input model is not touched.
  assert.deepEqual(encodeModel(model), encodeModel(twoLayers()));
});

test('sizeBudget: the written model fits; a larger budget raises more; below the smallest file is refused', async () => {
  const model = twoLayers();
  const q4 = encodeModel((await quantizeModel(model, { dtype: 'q4', blockSize: 32 })).model).byteLength;
  // Raising one weight to 8 bits adds D * D / 2 bytes of codes (scales are as many); 200 bytes of slack
  // covers the planner's allowance for protobuf length prefixes.
  const step = (D * D) / 2;
  const expected = [0, 1, 2];
  for (const [i, budget] of [q4 + 100, q4 + step + 200, q4 + 2 * step + 200].entries()) {
    const r = await quantizeModel(model, { dtype: 'q4', blockSize: 32, sizeBudget: String(budget) });
    const size = encodeModel(r.model).byteLength;
    assert.ok(size <= budget, `${size} > ${budget}`);
    const eights = Object.values(bitsOf(r.model)).filter((b) => b === 8).length;
    assert.equal(eights, expected[i], `budget ${budget}`);
  }
  await assert.rejects(
    quantizeModel(model, { dtype: 'q4', blockSize: 32, sizeBudget: `${q4 - 1}B` }),
    (e: unknown) =>
      e instanceof ShrinkError && e.option === 'sizeBudget' && /below the smallest model bits 4 block 32 writes/.test(e.message),
  );
});

test('mixed precision refuses what it cannot do, naming the option', async () => {
  const model = twoLayers();
  const cases: Array<[Parameters<typeof quantizeModel>[1], string, RegExp]> = [
    [{ dtype: 'q8', targetBits: 6 }, 'targetBits', /use it with dtype q4 or q4f16/],
    [{ dtype: 'q4', targetBits: 3 }, 'targetBits', /below the 4 bits every weight is stored in/],
    [{ dtype: 'q4', bits: 8, targetBits: 8 }, 'bits', /bits 8 is the widest level/],
    [{ dtype: 'q4', targetBits: 5, sizeBudget: '1MB' }, 'sizeBudget', /give one of them/],
    [{ dtype: 'q4', sizeBudget: 'lots' }, 'sizeBudget', /a size/],
  ];
  for (const [o, option, message] of cases) {
    await assert.rejects(quantizeModel(model, o), (e: unknown) => {
      assert.ok(e instanceof ShrinkError, String(e));
      assert.equal(e.option, option, e.message);
      assert.match(e.message, message);
      return true;
    });
  }
});

/** y = x Wa + 0.01 (x Wb): two alike weights, one of which barely reaches the output. */
function twoBranches(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      name: 'branches',
      nodes: [
        makeNode('MatMul', ['x', 'Wb'], ['hb'], {}, { name: 'fb' }),
        makeNode('Mul', ['hb', 'small'], ['hs'], {}, { name: 'scale' }),
        makeNode('MatMul', ['x', 'Wa'], ['ha'], {}, { name: 'fa' }),
        makeNode('Add', ['ha', 'hs'], ['y'], {}, { name: 'sum' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', D])],
      outputs: [makeValueInfo('y', 'float32', ['batch', D])],
      initializers: [
        makeTensor('Wa', 'float32', [D, D], lcgValues(D * D, 3, 0.15)),
        makeTensor('Wb', 'float32', [D, D], lcgValues(D * D, 4, 0.15)),
        makeTensor('small', 'float32', [], new Float32Array([0.01])),
      ],
    }),
  );
}

test('sensitivity outputs raises the weight the output depends on; though their weight errors are alike', async () => {
  const model = twoBranches();
  const calibration: FeedSet = {
    name: 'two samples',
    synthetic: true,
    samples: [feeds, { x: { data: lcgValues(16 * D, 12, 1), dims: [16, D] } }],
  };
  const measured = await quantizeModel(model, { dtype: 'q4', blockSize: 32, targetBits: 6, sensitivity: 'outputs' }, { calibration });
  assert.deepEqual(bitsOf(measured.model), { fb_Q4: 4, fa_Q8: 8 });
  assert.ok(
    measured.report.notes.some((n) => /the model's output error with it alone at 4 bits, on calibration samples of 'two samples'/.test(n)),
  );
  const want = await runOutput(model, feeds);
  const onlyB = await quantizeModel(model, { dtype: 'q4', blockSize: 32, include: ['fb'] });
  // Wb at 4 bits costs the output 1e4 times less than Wa at 4 bits (0.01^2): the choice is not close.
  const onlyA = await quantizeModel(model, { dtype: 'q4', blockSize: 32, include: ['fa'] });
  assert.ok(relError(await runOutput(onlyA.model, feeds), want) > 20 * relError(await runOutput(onlyB.model, feeds), want));
  await assert.rejects(
    quantizeModel(model, { dtype: 'q4', targetBits: 6, sensitivity: 'outputs' }),
    (e: unknown) => e instanceof ShrinkError && e.option === 'calibData',
  );
});

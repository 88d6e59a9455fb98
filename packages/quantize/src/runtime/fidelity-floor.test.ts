// The fidelity floor through runPass: minCosine (or a web target's floor) keeps float the layer whose
// quantization breaks the outputs, measured in real onnxruntime (node, and onnxruntime-web for wasm).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cosine, encodeModel, parseOptions, targetContext, type onnx, type PassOutput } from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import { createSession, runPass } from '@shrink/core/runtime';
import { quantizePass } from '../pass.js';
import { dataFor, IN, outlierMlp } from './explain.fixture.js';

/** The float and quantized outputs over the first 64 samples of `data`, concatenated: one cosine. */
async function outputCosine(a: onnx.IModelProto, b: onnx.IModelProto, data: Dataset): Promise<number> {
  const run = async (m: onnx.IModelProto) => {
    const s = await createSession(encodeModel(m));
    try {
      const n = Math.min(64, data.n);
      const x = data.x.subarray(0, n * IN);
      return (await s.run({ x: { data: x, dims: [n, IN] } }))['y']!.data as Float32Array;
    } finally {
      await s.release();
    }
  };
  return cosine(await run(a), await run(b));
}

const fallbackOf = (o: PassOutput) =>
  (o.report as { fidelityFallback?: { keptFloat: string[]; met: boolean; final: number } } | undefined)?.fidelityFallback;

async function quantize(model: onnx.ModelProto, options: Record<string, unknown>, ctx: object, data?: Dataset): Promise<PassOutput> {
  const parsed = parseOptions(quantizePass.schema, options, 'quantize') as Record<string, unknown>;
  const passData = { train: () => Promise.reject(new Error('no train data')), eval: () => Promise.resolve(data) };
  return runPass(quantizePass, model, parsed, { data: passData, ctx });
}

// q8 with a weight of 100 among ~N(0, 0.3) ones in fc2: one per-tensor scale rounds fc2's other weights
// to a few levels (measured: output cosine well below 0.999); fc1 and fc3 alone stay above 0.9999.
const FLOOR = 0.999;

test('minCosine keeps float the layer that breaks the outputs, and the output then meets it', async () => {
  const model = outlierMlp({ outlier: 'fc2' });
  const data = await dataFor(model, 256);
  const before = encodeModel(model);
  const plain = await quantize(model, { dtype: 'q8' }, {}, data);
  const plainCos = await outputCosine(model, plain.model, data);
  assert.ok(plainCos < FLOOR, `without the floor the q8 output is below it (the test can fail): ${plainCos}`);
  assert.equal(fallbackOf(plain), undefined, 'no floor on a run without a target or minCosine');

  const floored = await quantize(model, { dtype: 'q8', minCosine: FLOOR }, {}, data);
  assert.deepEqual(encodeModel(model), before, 'the input model is not mutated');
  const f = fallbackOf(floored);
  assert.ok(f, 'the report carries fidelityFallback');
  assert.deepEqual(f.keptFloat, ['fc2']);
  assert.equal(f.met, true);
  const cos = await outputCosine(model, floored.model, data);
  assert.ok(cos >= FLOOR, `output cosine ${cos} >= ${FLOOR}`);
  assert.ok(Math.abs(cos - f.final) < 1e-3, `the reported cosine ${f.final} is the output's (${cos})`);
  const ops = floored.model.graph!.node!.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === 'MatMulInteger').length, 2, 'fc1 and fc3 stay quantized');
  assert.ok(
    floored.notes.some((n) => /^fidelity fallback: .*1 node\(s\) kept as it was: fc2/.test(n)),
    floored.notes.join('\n'),
  );
  assert.match(floored.layers.find((l) => l.name === 'fc2')!.action ?? '', /^kept: fidelity fallback: kept as it was at step 1/);
});

test('a wasm target brings its floor (0.99) without minCosine, measured in onnxruntime-web on synthetic samples', async () => {
  const model = outlierMlp({ outlier: 'fc2' });
  const out = await quantize(model, { dtype: 'q8', allowSlower: true }, { target: targetContext('wasm') });
  const f = fallbackOf(out);
  assert.ok(f, 'the wasm floor ran');
  assert.deepEqual(f.keptFloat, ['fc2']);
  assert.ok(f.final >= 0.99, `final cosine ${f.final}`);
  assert.ok(
    out.notes.some((n) => /on 16 synthetic samples in onnxruntime-web-wasm/.test(n)),
    out.notes.join('\n'),
  );
  const cpu = await quantize(model, { dtype: 'q8', allowSlower: true }, { target: targetContext('cpu') });
  assert.equal(fallbackOf(cpu), undefined, 'cpu has no floor');
});

test('minCosine is an option with a range', () => {
  assert.throws(() => parseOptions(quantizePass.schema, { dtype: 'q8', minCosine: 1.5 }, 'quantize'), /minCosine/);
});

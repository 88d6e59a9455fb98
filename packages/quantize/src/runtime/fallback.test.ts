import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel, ShrinkError, type onnx } from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import { createSession, evaluate } from '@shrink/core/runtime';
import { dataFor, outlierMlp } from './explain.fixture.js';
import { quantizeWithFallback } from './fallback.js';

const ops = (m: onnx.IModelProto) => (m.graph?.node ?? []).map((n) => n.opType);
const count = (m: onnx.IModelProto, op: string) => ops(m).filter((o) => o === op).length;
const actions = (r: { report: { nodes: Array<{ name: string; action: string }> } }) => r.report.nodes.map((n) => [n.name, n.action]);

async function metric(m: onnx.IModelProto, ds: Dataset): Promise<number> {
  const s = await createSession(encodeModel(m));
  try {
    const r = await evaluate(s, ds);
    return r.task === 'classification' ? r.accuracy : r.mse;
  } finally {
    await s.release();
  }
}

// q8 dynamic on the clean layers of this MLP flips ~1% of the float model's argmax labels (measured).
const TIGHT = 0.02;

test('tight limit: the outlier layer (in the middle) is kept float, the others stay quantized, the limit is met', async () => {
  const model = outlierMlp({ outlier: 'fc2' });
  const data = await dataFor(model, 512);
  const before = encodeModel(model);
  const r = await quantizeWithFallback(model, { dtype: 'q8' }, {}, data, TIGHT);
  assert.deepEqual(encodeModel(model), before, 'the float model is not mutated');
  assert.equal(r.fallback.baseline, 1, 'labels come from the float model');
  assert.deepEqual(r.fallback.keptFloat, ['fc2']);
  assert.deepEqual(
    r.fallback.steps.map((s) => s.excluded),
    [['fc2']],
  );
  assert.ok(r.fallback.met && r.fallback.baseline - r.fallback.final <= TIGHT, JSON.stringify(r.fallback));
  assert.equal(r.fallback.final, r.fallback.steps[0]!.metric);
  assert.equal(await metric(r.model, data), r.fallback.final, 'the returned model is the one measured');
  assert.deepEqual(actions(r), [
    ['fc1', 'quantized'],
    ['fc2', 'kept-float'],
    ['fc3', 'quantized'],
  ]);
  const kept = r.report.nodes[1]!;
  assert.match(kept.reason!, /^accuracy fallback: kept float at step 1 \(drop \d+\.\d+ points > drop 2\.00 points; output 'fc2_mm' SQNR/);
  assert.equal(kept.weights, undefined);
  assert.equal(count(r.model, 'MatMulInteger'), 2);
  assert.equal(count(r.model, 'MatMul'), 1);
  assert.match(r.report.notes.at(-1)!, /accuracy fallback: .* 1 node\(s\) kept float: fc2/);
});

test('a loose limit needs no fallback step', async () => {
  const model = outlierMlp({ outlier: 'fc2' });
  const data = await dataFor(model, 512);
  const r = await quantizeWithFallback(model, { dtype: 'q8' }, {}, data, 0.9);
  assert.deepEqual(r.fallback.steps, []);
  assert.deepEqual(r.fallback.keptFloat, []);
  assert.ok(r.fallback.met);
  // The outlier wrecks fc2 (~58% measured), which the loose limit accepts.
  assert.ok(r.fallback.final < 0.9, `${r.fallback.final}`);
  assert.ok(actions(r).every(([, a]) => a === 'quantized'));
  assert.match(r.report.notes.at(-1)!, /no node needed to stay float/);
});

test('maxSteps reached: not met, said in a note, the last attempt returned', async () => {
  const model = outlierMlp({ outlier: 'fc3' });
  const data = await dataFor(model, 256);
  const r = await quantizeWithFallback(model, { dtype: 'q8' }, {}, data, TIGHT, { maxSteps: 0 });
  assert.equal(r.fallback.met, false);
  assert.deepEqual(r.fallback.steps, []);
  assert.match(r.report.notes.at(-1)!, /the limit is NOT met — stopped after 0 step\(s\) \(maxSteps\)/);
  assert.equal(count(r.model, 'MatMulInteger'), 3);
});

test("the user's --exclude is kept; the fallback adds to it", async () => {
  const model = outlierMlp({ outlier: 'fc1' });
  const data = await dataFor(model, 512);
  const r = await quantizeWithFallback(model, { dtype: 'q8', exclude: ['fc3'] }, {}, data, TIGHT);
  assert.deepEqual(r.fallback.keptFloat, ['fc1']);
  assert.ok(r.fallback.met);
  assert.deepEqual(actions(r), [
    ['fc1', 'kept-float'],
    ['fc2', 'quantized'],
    ['fc3', 'skipped'],
  ]);
  assert.match(r.report.nodes[2]!.reason!, /'fc3' is in exclude/);
});

test("unnamed nodes: the one kept float gets a name (its output's) so --exclude can match it", async () => {
  const model = outlierMlp({ outlier: 'fc2', unnamed: true });
  const data = await dataFor(model, 512);
  const r = await quantizeWithFallback(model, { dtype: 'q8' }, {}, data, TIGHT);
  assert.deepEqual(r.fallback.keptFloat, ['fc2_mm']);
  assert.ok(r.fallback.met);
  const node = r.model.graph!.node!.find((n) => n.name === 'fc2_mm')!;
  assert.equal(node.opType, 'MatMul');
  assert.deepEqual(actions(r), [
    ['fc1_mm', 'quantized'],
    ['fc2_mm', 'kept-float'],
    ['fc3_mm', 'quantized'],
  ]);
  assert.ok(
    (model.graph!.node ?? []).every((n) => !n.name),
    'the input model keeps its unnamed nodes',
  );
});

test('regression: the limit is a relative MSE increase', async () => {
  const model = outlierMlp({ outlier: 'fc2' });
  const data = await dataFor(model, 512, 'regression');
  const r = await quantizeWithFallback(model, { dtype: 'q8' }, {}, data, 0.5);
  // Targets are the float outputs plus N(0, 0.1) noise: the float model's MSE is ~0.01.
  assert.ok(r.fallback.baseline > 0.007 && r.fallback.baseline < 0.013, `${r.fallback.baseline}`);
  assert.deepEqual(r.fallback.keptFloat, ['fc2']);
  assert.ok(r.fallback.met && r.fallback.final <= r.fallback.baseline * 1.5, JSON.stringify(r.fallback));
  assert.match(r.report.nodes[1]!.reason!, /MSE \+\d+\.\d+% > MSE \+50\.00%/);
});

test('invalid limits and options are refused before anything runs', async () => {
  const model = outlierMlp();
  const data = await dataFor(model, 8);
  for (const bad of [-0.01, NaN]) {
    await assert.rejects(
      quantizeWithFallback(model, { dtype: 'q8' }, {}, data, bad),
      (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT' && /maxAccuracyDrop: must be a number >= 0/.test(e.message),
    );
  }
  await assert.rejects(quantizeWithFallback(model, { dtype: 'q8' }, {}, data, 0.01, { maxSteps: 1.5 }), /maxSteps must be an integer >= 0/);
  await assert.rejects(quantizeWithFallback(model, { dtype: 'q3' as 'q8' }, {}, data, 0.01), (e: unknown) => e instanceof ShrinkError);
});

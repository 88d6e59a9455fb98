import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, parseOptions, ShrinkError, type onnx } from '@shrink/core';
import { createDataset, resolveSplit, type Dataset } from '@shrink/core/data';
import { createSession, evaluate } from '@shrink/core/runtime';
import { exportToOnnx, trainPreset } from '@shrink/core/tfjs';
import { quantizeOptionsSchema } from '../options.js';
import { quantizeStatic } from '../static.js';
import { calibrate, randomCalibration } from './calibrate.js';

/** x [batch|fixed, 4] -> Relu -> MatMul -> y [., 2]. */
function tiny(batch: number | string = 'batch'): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [makeNode('Relu', ['x'], ['r'], {}, { name: 'relu' }), makeNode('MatMul', ['r', 'w'], ['y'], {}, { name: 'mm' })],
      inputs: [makeValueInfo('x', 'float32', [batch, 4])],
      outputs: [makeValueInfo('y', 'float32', [batch, 2])],
      initializers: [makeTensor('w', 'float32', [4, 2], [1, 0, 0, 1, 1, 0, 0, 1])],
    }),
    { opset: 17 },
  );
}

function table(rows: number[][], name = 'table'): Dataset {
  return createDataset({
    name,
    task: 'classification',
    sampleShape: [rows[0]?.length ?? 4],
    x: Float32Array.from(rows.flat()),
    y: new Int32Array(rows.length),
    numClasses: 2,
  });
}

const rows = Array.from({ length: 20 }, (_, i) => [i - 5, -i, i / 2, 3]);

test('minmax ranges are the exact extremes of the samples used (samples limit, any batch size)', async () => {
  const data = table(rows);
  const r = await calibrate(tiny(), data, { samples: 10, batch: 3 });
  assert.equal(r.samples, 10);
  assert.equal(r.data, 'table');
  assert.equal(r.method, 'minmax');
  // First 10 samples: x in [-9, 4.5]; Relu -> [0, 4.5]; y = [x0 + x2, x1 + x3] after Relu.
  assert.deepEqual(r.ranges.get('x'), [-9, 4.5]);
  assert.deepEqual(r.ranges.get('r'), [0, 4.5]);
  assert.deepEqual(r.ranges.get('y'), [0, 8.5]);
  const all = await calibrate(tiny(), data, { batch: 64 });
  assert.equal(all.samples, 20);
  assert.deepEqual(all.ranges.get('x'), [-19, 14]);
});

test('a fixed batch dim: partial batches are padded for the run but the padding stays out of the ranges', async () => {
  const data = table(Array.from({ length: 6 }, (_, i) => [1 + i / 10, 1, 2, 1.5]));
  const r = await calibrate(tiny(4), data, { batch: 16 });
  assert.equal(r.samples, 6);
  assert.deepEqual(r.ranges.get('x'), [1, 2]); // zero padding would have pulled the min to 0
});

test('percentile 100 equals minmax; entropy and percentile report their method', async () => {
  const data = table(rows);
  const p = await calibrate(tiny(), data, { method: 'percentile', percentile: 100 });
  const m = await calibrate(tiny(), data);
  assert.equal(p.method, 'percentile');
  for (const [k, v] of m.ranges) assert.deepEqual(p.ranges.get(k), v, k);
  const e = await calibrate(tiny(), data, { method: 'entropy' });
  assert.equal(e.method, 'entropy');
  assert.equal(e.ranges.size, m.ranges.size);
});

test('an empty calibration set is CALIBRATION_EMPTY; samples of the wrong shape are INVALID_DATA naming both shapes', async () => {
  const empty = createDataset({
    name: 'nothing',
    task: 'classification',
    sampleShape: [4],
    x: new Float32Array(0),
    y: new Int32Array(0),
    numClasses: 2,
  });
  await assert.rejects(
    calibrate(tiny(), empty),
    (e: unknown) => e instanceof ShrinkError && e.code === 'CALIBRATION_EMPTY' && /'nothing' has no samples/.test(e.message),
  );
  const wrong = table([[1, 2, 3, 4, 5]], 'five');
  await assert.rejects(
    calibrate(tiny(), wrong),
    (e: unknown) =>
      e instanceof ShrinkError &&
      e.code === 'INVALID_DATA' &&
      /\[batch, 4\]/.test(e.message) &&
      /\[5\]/.test(e.message) &&
      /'five'/.test(e.message),
  );
  await assert.rejects(calibrate(tiny(), table(rows), { samples: 0 }), /samples 0 must be a positive integer/);
});

test('random:N data is uniform [0, 1), shaped for the input, seeded, and labelled a smoke test', () => {
  const a = randomCalibration(tiny(), 50, 1);
  assert.equal(a.n, 50);
  assert.deepEqual(a.sampleShape, [4]);
  assert.ok(a.x.every((v) => v >= 0 && v < 1));
  assert.match(a.name, /^random:50 .*smoke test/);
  assert.deepEqual(randomCalibration(tiny(), 50, 1).x, a.x);
  assert.notDeepEqual(randomCalibration(tiny(), 50, 2).x, a.x);
  const symbolic = makeModel(
    makeGraph({
      nodes: [makeNode('Relu', ['x'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', ['b', 'n'])],
      outputs: [makeValueInfo('y', 'float32')],
    }),
  );
  assert.throws(
    () => randomCalibration(symbolic, 4),
    (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT' && /'x' is \[b, n\]/.test(e.message),
  );
  const two = makeModel(
    makeGraph({
      nodes: [makeNode('Add', ['a', 'b'], ['y'])],
      inputs: [makeValueInfo('a', 'float32', [1, 2]), makeValueInfo('b', 'float32', [1, 2])],
      outputs: [makeValueInfo('y', 'float32')],
    }),
  );
  assert.throws(() => randomCalibration(two, 4), /exactly one model input; the model has 2 \(a, b\)/);
});

test('trained digits-mlp: static int8 calibrated on digits train stays within 1 accuracy point on digits test', async () => {
  const trained = await trainPreset('digits-mlp', { epochs: 3 });
  const model = exportToOnnx(trained.model).model;
  const split = await resolveSplit('digits');
  const cal = await calibrate(model, split.train, { samples: 256, method: 'minmax' });
  const { model: q, report } = quantizeStatic(
    model,
    parseOptions(quantizeOptionsSchema, { mode: 'static', perChannel: true }),
    cal.ranges,
    cal,
  );
  assert.equal(report.nodes.filter((n) => n.opType === 'Gemm' && n.action === 'quantized').length, 3);
  const [fs, qs] = await Promise.all([createSession(model), createSession(q)]);
  try {
    const a = await evaluate(fs, split.test);
    const b = await evaluate(qs, split.test);
    assert.equal(a.task, 'classification');
    assert.equal(b.task, 'classification');
    if (a.task !== 'classification' || b.task !== 'classification') return;
    assert.ok(a.accuracy > 0.85, `float accuracy ${a.accuracy}`);
    assert.ok(Math.abs(a.accuracy - b.accuracy) <= 0.01, `float ${a.accuracy} vs static int8 ${b.accuracy}`);
  } finally {
    await Promise.all([fs.release(), qs.release()]);
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel, Graph, ShrinkError, type onnx } from '@shrink/core';
import { resolveSplit } from '@shrink/core/data';
import { runWithIntermediates } from '@shrink/core/runtime';
import { exportToOnnx, trainPreset } from '@shrink/core/tfjs';
import type { QuantizeReport } from '../types.js';
import { dataFor, IN, outlierMlp } from './explain.fixture.js';
import { explainQuantization, type LayerError } from './explain.js';
import { quantizeModel } from './quantize-model.js';

const byNode = (rows: LayerError[]) => new Map(rows.map((r) => [r.node, r]));

for (const outlier of ['fc1', 'fc3'] as const) {
  test(`q8 dynamic, outlier weight in ${outlier}: explain ranks ${outlier} first`, async () => {
    const model = outlierMlp({ outlier });
    const data = await dataFor(model, 256);
    const before = encodeModel(model);
    const { model: q, report } = await quantizeModel(model, { dtype: 'q8' });
    const rows = await explainQuantization(model, q, report, data);
    assert.deepEqual(encodeModel(model), before, 'the float model is not mutated');
    assert.deepEqual(rows.map((r) => r.node)[0], outlier, JSON.stringify(rows));
    assert.equal(rows.length, 3);
    for (const r of rows) {
      assert.equal(r.output, `${r.node}_mm`);
      assert.equal(r.opType, 'MatMul');
      assert.ok(r.comparable);
      // relError and SQNR are two views of the same sums.
      assert.ok(
        Math.abs(r.relError - 10 ** (-r.sqnrDb / 20)) < 1e-9 * Math.max(1, r.relError),
        `${r.node}: ${r.relError} vs ${r.sqnrDb} dB`,
      );
      assert.ok(r.maxAbsError > 0);
    }
    // Measured: the outlier layer ~2-5 dB, the others ~40 dB on their own.
    const m = byNode(rows);
    assert.ok(m.get(outlier)!.sqnrDb < 10, `${outlier} ${m.get(outlier)!.sqnrDb} dB`);
    assert.ok(m.get(outlier)!.localSqnrDb! < 10);
    for (const other of ['fc1', 'fc2', 'fc3'].filter((n) => n !== outlier))
      assert.ok(m.get(other)!.localSqnrDb! > 30, `${other} alone: ${m.get(other)!.localSqnrDb} dB`);
    assert.equal(m.get('fc1')!.inputSqnrDb, Infinity, 'fc1 reads the graph input');
    assert.equal(m.get('fc1')!.localSqnrDb, m.get('fc1')!.sqnrDb, 'fc1 has no upstream error: alone = in the model');
  });
}

test('outlier in the middle layer: the trace carries its error downstream, the cut-out finds it', async () => {
  const model = outlierMlp({ outlier: 'fc2' });
  const data = await dataFor(model, 256);
  const { model: q, report } = await quantizeModel(model, { dtype: 'q8' });
  const m = byNode(await explainQuantization(model, q, report, data));
  const [fc1, fc2, fc3] = [m.get('fc1')!, m.get('fc2')!, m.get('fc3')!];
  assert.ok(fc2.localSqnrDb! < 10 && fc2.sqnrDb < 10, JSON.stringify(fc2));
  assert.ok(fc3.inputSqnrDb! < 10, "fc3 reads fc2's error");
  assert.ok(fc3.sqnrDb < 10, 'and its own output shows it');
  assert.ok(fc3.localSqnrDb! > 30 && fc1.localSqnrDb! > 30, `fc1 ${fc1.localSqnrDb}, fc3 ${fc3.localSqnrDb} dB alone`);
  assert.ok(fc2.inputSqnrDb! > 30, 'fc2 gets clean inputs');
});

test('SQNR matches a direct computation from runWithIntermediates (1e-6 dB)', async () => {
  const model = outlierMlp({ outlier: 'fc2' });
  const data = await dataFor(model, 40);
  const { model: q, report } = await quantizeModel(model, { dtype: 'q8' });
  const rows = await explainQuantization(model, q, report, data, { samples: 40, batch: 40 });
  const feeds = { x: { data: data.x, dims: [40, IN] } };
  const names = ['fc1_mm', 'fc2_mm', 'fc3_mm'];
  const [f, qq] = [await runWithIntermediates(model, feeds, { names }), await runWithIntermediates(q, feeds, { names })];
  for (const name of names) {
    const x = f.get(name)!.data;
    const xq = qq.get(name)!.data;
    let s = 0;
    let n = 0;
    for (let i = 0; i < x.length; i++) {
      s += x[i]! ** 2;
      n += (x[i]! - xq[i]!) ** 2;
    }
    const row = rows.find((r) => r.output === name)!;
    assert.ok(Math.abs(row.sqnrDb - 10 * Math.log10(s / n)) < 1e-6, `${name}: ${row.sqnrDb} vs ${10 * Math.log10(s / n)}`);
  }
});

test('a fixed batch dim: padded rows are left out (same numbers as with a free batch dim)', async () => {
  const model = outlierMlp({ outlier: 'fc3' });
  const data = await dataFor(model, 20);
  // Static scales, so results do not depend on how samples are batched (dynamic ranges would).
  const { model: q, report } = await quantizeModel(model, { dtype: 'q8', mode: 'static' }, { calibration: data });
  const fixed = (m: onnx.ModelProto) => {
    const g = Graph.from(m);
    g.inputs[0]!.type!.tensorType!.shape!.dim![0] = { dimValue: 8 };
    return g.toModel();
  };
  // 20 samples in runs of 8: the last run holds 4 samples and 4 zero rows.
  const free = await explainQuantization(model, q, report, data, { samples: 20, batch: 20 });
  const padded = await explainQuantization(fixed(model), fixed(q), report, data, { samples: 20 });
  for (const r of free) {
    const p = padded.find((x) => x.node === r.node)!;
    assert.ok(Math.abs(p.sqnrDb - r.sqnrDb) < 1e-4, `${r.node}: ${p.sqnrDb} vs ${r.sqnrDb}`);
    assert.ok(Math.abs(p.localSqnrDb! - r.localSqnrDb!) < 1e-4);
  }
});

test('identical models give Infinity dB and zero error', async () => {
  const model = outlierMlp();
  const data = await dataFor(model, 16);
  const report: QuantizeReport = {
    dtype: 'q8',
    mode: 'dynamic',
    unhandled: {},
    notes: [],
    nodes: [{ name: 'fc1', opType: 'MatMul', action: 'quantized' }],
  };
  const [row] = await explainQuantization(model, model, report, data);
  assert.deepEqual(
    { sqnr: row!.sqnrDb, rel: row!.relError, max: row!.maxAbsError, local: row!.localSqnrDb },
    { sqnr: Infinity, rel: 0, max: 0, local: Infinity },
  );
});

test('outputs missing from either model are listed last as not comparable, the rest still measured', async () => {
  const model = outlierMlp({ outlier: 'fc1' });
  const data = await dataFor(model, 32);
  const { model: q, report } = await quantizeModel(model, { dtype: 'q8' });
  const g = Graph.from(q);
  // As if a pass had renamed fc2's output: nothing in the quantized model is called fc2_mm any more.
  g.editNode(g.producer('fc2_mm')!, (n) => {
    n.output = n.output.map((o) => (o === 'fc2_mm' ? 'fc2_mm_renamed' : o));
  });
  g.replaceAllUses('fc2_mm', 'fc2_mm_renamed');
  const withGhost: QuantizeReport = { ...report, nodes: [...report.nodes, { name: 'ghost', opType: 'MatMul', action: 'quantized' }] };
  const rows = await explainQuantization(model, g.toModel(), withGhost, data);
  assert.deepEqual(
    rows.map((r) => [r.node, r.comparable]),
    [
      ['fc1', true],
      ['fc3', true],
      ['fc2', false],
      ['ghost', false],
    ],
  );
  assert.match(rows[2]!.reason!, /no value 'fc2_mm' in the quantized model/);
  assert.match(rows[3]!.reason!, /no node 'ghost' in the float model/);
  assert.ok(Number.isNaN(rows[2]!.sqnrDb));
  assert.ok(rows[0]!.sqnrDb < 10);
});

test('bad sample counts are refused', async () => {
  const model = outlierMlp();
  const data = await dataFor(model, 4);
  const { model: q, report } = await quantizeModel(model, { dtype: 'q8' });
  await assert.rejects(
    explainQuantization(model, q, report, data, { samples: 0 }),
    (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT' && /samples must be a positive integer/.test(e.message),
  );
});

test('trained digits-mlp, q8 dynamic: one row per quantized MatMul/Gemm, all above 20 dB', async () => {
  const trained = await trainPreset('digits-mlp', { epochs: 3 });
  const model = exportToOnnx(trained.model).model;
  const { test: ds } = await resolveSplit('digits');
  const { model: q, report } = await quantizeModel(model, { dtype: 'q8' });
  const quantized = report.nodes.filter((n) => n.action === 'quantized');
  const dense = model.graph!.node!.filter((n) => n.opType === 'MatMul' || n.opType === 'Gemm').length;
  assert.ok(dense >= 2 && quantized.length === dense, `${quantized.length} quantized of ${dense}`);
  const rows = await explainQuantization(model, q, report, ds, { samples: 128 });
  assert.equal(rows.length, dense);
  for (const r of rows) {
    assert.ok(r.comparable && Number.isFinite(r.sqnrDb) && r.sqnrDb > 20, JSON.stringify(r));
    assert.ok(Number.isFinite(r.localSqnrDb!) && r.localSqnrDb! >= r.sqnrDb - 1, JSON.stringify(r));
  }
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1]!.sqnrDb <= rows[i]!.sqnrDb, 'worst first');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/builder.js';
import { withSession } from './session.js';
import { cpuPowerWatts, DEFAULT_GRID_INTENSITY, DEFAULT_TDP_WATTS, measureEnergy, modelEnergy, perMillion, raplJoules, readRapl } from './energy.js';

const rel = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.abs(b), `${a} vs ${b}`);

test('power model and per-million arithmetic: known answers', () => {
  assert.equal(DEFAULT_TDP_WATTS, 85);
  assert.equal(DEFAULT_GRID_INTENSITY, 475);
  assert.equal(cpuPowerWatts({ threads: 1, logicalCores: 2 }), 42.5);
  assert.equal(cpuPowerWatts({ threads: 8, logicalCores: 4, tdpWatts: 65, sockets: 2 }), 130, 'threads beyond the cores count as all cores');
  // 3.6 J per inference x 1e6 = 3.6e6 J = 1 kWh
  assert.deepEqual(perMillion(3.6, 100), { kWhPerMillion: 1, gCO2ePerMillion: 100 });
  // 42.5 W x 2 ms per (median) run / 4 samples = 0.02125 J; x 1e6 / 3.6e6 = 0.0059027.. kWh; x 475 g/kWh
  const e = modelEnergy({ p50: 2, batch: 4 }, { threads: 1, logicalCores: 2 });
  assert.equal(e.method, 'cpu-power-model');
  rel(e.joulesPerInference, 0.02125);
  rel(e.kWhPerMillion, 0.02125 / 3.6);
  rel(e.gCO2ePerMillion, (0.02125 / 3.6) * 475);
  assert.equal(e.watts, 42.5);
  assert.match(e.note, /85 W TDP per socket \(CodeCarbon's default for an unknown CPU\) × 1 socket\(s\) × 1\/2 logical cores busy = 42\.5 W/);
  assert.match(e.note, /475 g\/kWh/);
  assert.throws(() => perMillion(1, -1), (x) => x instanceof ShrinkError && x.code === 'INVALID_ARGUMENT');
  assert.throws(() => cpuPowerWatts({ threads: 0, logicalCores: 2 }), ShrinkError);
});

function raplFixture(zones: Record<string, { name: string; energy: number; max: number }>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
  for (const [dir, z] of Object.entries(zones)) {
    fs.mkdirSync(path.join(root, dir));
    fs.writeFileSync(path.join(root, dir, 'name'), `${z.name}\n`);
    fs.writeFileSync(path.join(root, dir, 'energy_uj'), `${z.energy}\n`);
    fs.writeFileSync(path.join(root, dir, 'max_energy_range_uj'), `${z.max}\n`);
  }
  return root;
}

test('readRapl reads package zones only; raplJoules handles wraparound', () => {
  const max = 262143328850;
  const root = raplFixture({
    'intel-rapl:0': { name: 'package-0', energy: max - 1_000_000, max },
    'intel-rapl:0:0': { name: 'core', energy: 5, max },
    'intel-rapl:1': { name: 'package-1', energy: 10_000_000, max },
    'intel-rapl:2': { name: 'psys', energy: 7, max },
  });
  try {
    const before = readRapl(root);
    assert.ok(before.ok);
    assert.deepEqual(before.domains.map((d) => d.name), ['package-0', 'package-1']);
    fs.writeFileSync(path.join(root, 'intel-rapl:0', 'energy_uj'), '5000000\n'); // wrapped: 1 J to the top + 5 J
    fs.writeFileSync(path.join(root, 'intel-rapl:1', 'energy_uj'), '12500000\n'); // +2.5 J
    const after = readRapl(root);
    assert.ok(after.ok);
    rel(raplJoules(before.domains, after.domains), 8.5);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  const none = readRapl(path.join(os.tmpdir(), 'shrink-no-powercap-here'));
  assert.equal(none.ok, false);
});

const identity = makeModel(
  makeGraph({ nodes: [makeNode('Relu', ['x'], ['y'])], inputs: [makeValueInfo('x', 'float32', ['N', 4])], outputs: [makeValueInfo('y', 'float32', ['N', 4])] }),
);
const feeds = { x: { data: new Float32Array(8), dims: [2, 4] } };

test('measureEnergy without RAPL uses the power model on a measured latency and says why', async () => {
  await withSession(identity, { threads: 1 }, async (s) => {
    const e = await measureEnergy(s, feeds, { raplRoot: path.join(os.tmpdir(), 'shrink-no-powercap-here'), logicalCores: 2, warmup: 1, runs: 3, gridIntensity: 100 });
    assert.equal(e.method, 'cpu-power-model');
    assert.equal(e.watts, 42.5, 'one of two logical cores at 85 W');
    assert.equal(e.gridIntensity, 100);
    assert.ok(e.joulesPerInference > 0);
    rel(e.gCO2ePerMillion, e.kWhPerMillion * 100);
    assert.match(e.note, /^cpu-power-model \(no RAPL: .* does not exist\)/);
  });
});

test('measureEnergy with RAPL counters that do not advance falls back to the model and says so', async () => {
  const root = raplFixture({ 'intel-rapl:0': { name: 'package-0', energy: 1000, max: 1e12 } });
  try {
    await withSession(identity, { threads: 1 }, async (s) => {
      const e = await measureEnergy(s, feeds, { raplRoot: root, logicalCores: 2, warmup: 0, runs: 2, minRaplMs: 1 });
      assert.equal(e.method, 'cpu-power-model');
      assert.match(e.note, /RAPL counters did not advance/);
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

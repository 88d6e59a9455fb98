import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/builder.js';
import { withSession } from './session.js';
import {
  cpuPowerWatts,
  DEFAULT_GRID_INTENSITY,
  DEFAULT_TDP_WATTS,
  measureEnergy,
  modelEnergy,
  perMillion,
  ramPowerWatts,
  raplJoules,
  readRapl,
} from './energy.js';

const rel = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.abs(b), `${a} vs ${b}`);

test("power model and per-million arithmetic: known answers by CodeCarbon's constant-mode formula", () => {
  assert.equal(DEFAULT_TDP_WATTS, 85);
  assert.equal(DEFAULT_GRID_INTENSITY, 475);
  // CodeCarbon, unknown CPU in constant mode: 85 W x CONSUMPTION_PERCENTAGE_CONSTANT 0.5 = 42.5 W.
  assert.equal(cpuPowerWatts(), 42.5);
  assert.equal(cpuPowerWatts({ tdpWatts: 65, sockets: 2 }), 65);
  // RAM._calculate_ram_power on x86: 16 GiB -> 2 DIMMs x 5 W = 10 W; 64 GiB -> 4 x 5 = 20 W;
  // 128 GiB -> 8 DIMMs: 4 x 5 + 4 x 5 x 0.9 = 38 W; 200 GiB -> largest DIMM <= 200/8 is 16 GiB, 13 of them: 20 + 18 + 5 x 5 x 0.8 = 58 W;
  // 1 GiB -> 1 DIMM, floored at 2 x 5 = 10 W; ARM 8 GiB -> 2 x 1.5 = 3 W (its floor).
  const GiB = 1024 ** 3;
  assert.equal(ramPowerWatts(16 * GiB, false), 10);
  assert.equal(ramPowerWatts(64 * GiB, false), 20);
  rel(ramPowerWatts(128 * GiB, false), 38);
  rel(ramPowerWatts(200 * GiB, false), 58);
  assert.equal(ramPowerWatts(1 * GiB, false), 10);
  assert.equal(ramPowerWatts(8 * GiB, true), 3);
  // 3.6 J per inference x 1e6 = 3.6e6 J = 1 kWh
  assert.deepEqual(perMillion(3.6, 100), { kWhPerMillion: 1, gCO2ePerMillion: 100 });
  // CodeCarbon: energy = (CPU 42.5 W + RAM 10 W for 16 GiB) x duration; duration = 2 ms per (median) run of
  // 4 samples -> 52.5 W x 0.002 s / 4 = 0.02625 J per inference; x 1e6 / 3.6e6 kWh; x 475 g/kWh.
  const e = modelEnergy({ p50: 2, batch: 4 }, { ramBytes: 16 * GiB, arm: false });
  assert.equal(e.method, 'cpu-power-model');
  assert.equal(e.watts, 52.5);
  rel(e.joulesPerInference, 0.02625);
  rel(e.kWhPerMillion, 0.02625 / 3.6);
  rel(e.gCO2ePerMillion, (0.02625 / 3.6) * 475);
  assert.match(e.note, /85 W TDP \(CodeCarbon's default for an unknown CPU\) × 1 socket\(s\) × 0\.5 = 42\.5 W/);
  assert.match(e.note, /RAM 16\.0 GiB → 2 DIMM\(s\) × 5 W .* = 10 W = 52\.5 W/);
  assert.match(e.note, /475 g\/kWh/);
  assert.equal(modelEnergy({ p50: 2, batch: 4 }, { ramBytes: 0 }).watts, 42.5, 'ramBytes 0 leaves RAM out');
  assert.throws(
    () => perMillion(1, -1),
    (x) => x instanceof ShrinkError && x.code === 'INVALID_ARGUMENT',
  );
  assert.throws(() => cpuPowerWatts({ tdpWatts: 0 }), ShrinkError);
  assert.throws(() => ramPowerWatts(-1), ShrinkError);
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
    assert.deepEqual(
      before.domains.map((d) => d.name),
      ['package-0', 'package-1'],
    );
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
  makeGraph({
    nodes: [makeNode('Relu', ['x'], ['y'])],
    inputs: [makeValueInfo('x', 'float32', ['N', 4])],
    outputs: [makeValueInfo('y', 'float32', ['N', 4])],
  }),
);
const feeds = { x: { data: new Float32Array(8), dims: [2, 4] } };

test('measureEnergy without RAPL uses the power model on a measured latency and says why', async () => {
  await withSession(identity, { threads: 1 }, async (s) => {
    const e = await measureEnergy(s, feeds, {
      raplRoot: path.join(os.tmpdir(), 'shrink-no-powercap-here'),
      ramBytes: 16 * 1024 ** 3,
      warmup: 1,
      runs: 3,
      gridIntensity: 100,
    });
    assert.equal(e.method, 'cpu-power-model');
    assert.equal(e.watts, 42.5 + (process.arch.startsWith('arm') ? 3 : 10), 'half of 85 W TDP plus the RAM of 16 GiB');
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
      const e = await measureEnergy(s, feeds, { raplRoot: root, warmup: 0, runs: 2, minRaplMs: 1 });
      assert.equal(e.method, 'cpu-power-model');
      assert.match(e.note, /RAPL counters did not advance/);
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

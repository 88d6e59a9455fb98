import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReport, metric, metricRow, orderedMetricKeys, verdict } from './report.js';
import { formatChange, formatValue } from './format.js';
import { renderTable } from './table.js';
import { parseReport, renderJson } from './json.js';
import { ShrinkError } from '../errors.js';
import { fullReport } from './report.fixture.js';

test('metricRow computes delta and ratio', () => {
  const r = metricRow(1000, 250, 'bytes', 'lower');
  assert.deepEqual(r, { baseline: 1000, candidate: 250, delta: -750, ratio: 0.25, unit: 'bytes', better: 'lower' });
  assert.equal(verdict(r), 'better');
  assert.equal(verdict(metricRow(0.9, 0.85, 'fraction', 'higher')), 'worse');
  assert.equal(verdict(metricRow(3, 3, 'ms', 'lower')), 'same');
});

test('metricRow: a 0 baseline leaves ratio undefined; a missing side leaves delta and ratio undefined', () => {
  const z = metricRow(0, 5, 'count', 'lower');
  assert.equal(z.delta, 5);
  assert.equal(z.ratio, undefined);
  assert.ok(!('ratio' in z), 'no ratio key at all, so JSON has no null');
  const half = metricRow(undefined, 5, 'count', 'lower');
  assert.deepEqual(half, { candidate: 5, unit: 'count', better: 'lower' });
  assert.equal(verdict(half), undefined);
});

test('metricRow: a measured ratio overrides the computed one; non-finite values are refused', () => {
  const r = metricRow(2, 1, 'ms', 'lower', { ratio: 0.48, method: 'interleaved A/B' });
  assert.equal(r.ratio, 0.48);
  assert.equal(r.delta, -1);
  assert.equal(r.method, 'interleaved A/B');
  assert.throws(
    () => metricRow(NaN, 1, 'ms', 'lower'),
    (e) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT',
  );
  assert.throws(() => metricRow(1, Infinity, 'ms', 'lower'), ShrinkError);
});

test('metric() takes unit and direction from METRICS', () => {
  assert.deepEqual(metric('accuracy', 0.9, 0.95), {
    baseline: 0.9,
    candidate: 0.95,
    delta: 0.95 - 0.9,
    ratio: 0.95 / 0.9,
    unit: 'fraction',
    better: 'higher',
  });
  assert.equal(metric('latency.p50', 2, 1).better, 'lower');
  assert.deepEqual(orderedMetricKeys({ zeta: 1, accuracy: 1, 'size.bytes': 1, alpha: 1 }), ['size.bytes', 'accuracy', 'alpha', 'zeta']);
});

test('formatValue: human units', () => {
  const cases: Array<[number, string, string]> = [
    [512, 'bytes', '512 B'],
    [1234, 'bytes', '1.23 KB'],
    [999_999, 'bytes', '1.00 MB'],
    [2_500_000, 'bytes', '2.50 MB'],
    [1_234_567, 'count', '1.23 M'],
    [42, 'count', '42'],
    [0.85, 'ms', '850 µs'],
    [12.34, 'ms', '12.3 ms'],
    [1500, 'ms', '1.50 s'],
    [9.996, 'ms', '10.0 ms'],
    [0.9512, 'fraction', '95.12 %'],
    [0.0021, 'J', '2.10 mJ'],
    [1.5e-5, 'kWh', '15.0 mWh'],
    [2.4, 'gCO2e', '2.40 g CO2e'],
    [2345, 'samples/s', '2.35 k/s'],
    [0.25, 'x', '0.250×'],
    [1.2e-7, '', '1.200e-7'],
    [3, 'widgets', '3.000 widgets'],
  ];
  for (const [x, unit, want] of cases) assert.equal(formatValue(x, unit), want, `${x} ${unit}`);
});

test('formatChange: delta with relative change; percentage points for fractions', () => {
  assert.equal(formatChange(metricRow(1_000_000, 250_000, 'bytes', 'lower')), '-750 KB (-75.0 %)');
  assert.equal(formatChange(metricRow(2, 3, 'ms', 'lower')), '+1.00 ms (+50.0 %)');
  assert.equal(formatChange(metricRow(0.95, 0.9375, 'fraction', 'higher')), '-1.25 pp');
  assert.equal(formatChange(metricRow(undefined, 3, 'ms', 'lower')), '');
});

function sample() {
  return createReport({
    createdAt: '2025-01-02T03:04:05.000Z',
    baseline: { name: 'mlp', path: 'models/mlp.onnx' },
    candidates: [
      {
        name: 'int8',
        path: 'out/model_int8.onnx',
        metrics: {
          accuracy: metric('accuracy', 0.95, 0.9375),
          'size.bytes': metric('size.bytes', 1_000_000, 250_000),
          'latency.p50': metric('latency.p50', 2, 1, { ratio: 0.48, method: 'interleaved A/B, 50 pairs, batch 1' }),
          custom: metricRow(0, 1, 'count', 'lower'),
        },
        notes: ['MatMul quantized; Softmax skipped (no handler)'],
      },
      { name: 'pruned', metrics: { 'size.bytes': metric('size.bytes', 1_000_000, 1_100_000) } },
    ],
    environment: { threads: 1, node: 'v20.0.0', platform: 'linux' },
    notes: ['energy: cpu-power-model'],
  });
}

test('renderTable shows values, changes, verdicts and method footnotes for every candidate', () => {
  const t = renderTable(sample());
  assert.ok(!/\u001b\[/.test(t), 'no ANSI codes unless asked');
  assert.match(t, /Baseline: mlp \(models\/mlp\.onnx\)/);
  assert.match(t, /Candidate: int8 \(out\/model_int8\.onnx\)/);
  assert.match(t, /Candidate: pruned/);
  assert.match(t, /Size\s+│\s+1\.00 MB\s+│\s+250 KB\s+│\s+-750 KB \(-75\.0 %\)\s+│\s+0\.250×\s+│ better/);
  assert.match(t, /Accuracy \(top-1\)\s+│\s+95\.00 %\s+│\s+93\.75 %\s+│\s+-1\.25 pp\s+│\s+0\.987×\s+│ worse/);
  assert.match(t, /Latency p50 \[1\]/);
  assert.match(t, /\[1\] interleaved A\/B, 50 pairs, batch 1/);
  assert.match(t, /Size\s+│\s+1\.00 MB\s+│\s+1\.10 MB\s+│.*│ worse/);
  assert.match(t, /Environment: node v20\.0\.0, platform linux, threads 1/);
  assert.match(t, /note: MatMul quantized/);
  // rows follow METRICS order (size before latency before accuracy), unknown keys last
  assert.ok(
    t.indexOf('Size') < t.indexOf('Latency') && t.indexOf('Latency') < t.indexOf('Accuracy') && t.indexOf('Accuracy') < t.indexOf('custom'),
  );
  assert.match(renderTable(sample(), { color: true }), /\u001b\[32mbetter/);
  assert.ok(!t.includes('Target:'), 'no target, no line');
});

test('renderTable names the target under the baseline and lists each candidate’s kernels', () => {
  const t = renderTable(fullReport());
  assert.match(t, /^Target: cpu \(cpu-x86-avx512-vnni\) · onnxruntime-node 1\.30\.0 · ISA avx512-vnni · 1 thread · measured/m);
  assert.match(
    t,
    /^ {2}kernel: MatMulInteger \(u8 x s8\) x3: MLAS u8s8 GEMM, VPDPBUSD \(int32 sums\) \[microsoft\/onnxruntime PR #12088\]$/m,
  );
});

test('renderJson: versioned, stable key order whatever the insertion order, and round-trips', () => {
  const r = sample();
  const json = renderJson(r);
  const parsed = JSON.parse(json);
  assert.equal(parsed.schema, 'shrink.report/v1');
  assert.deepEqual(Object.keys(parsed), ['schema', 'createdAt', 'baseline', 'candidates', 'environment', 'notes']);
  assert.deepEqual(Object.keys(parsed.candidates[0].metrics), ['size.bytes', 'latency.p50', 'accuracy', 'custom']);
  assert.deepEqual(Object.keys(parsed.candidates[0].metrics['size.bytes']), ['baseline', 'candidate', 'delta', 'ratio', 'unit', 'better']);
  assert.deepEqual(Object.keys(parsed.environment), ['node', 'platform', 'threads']);
  assert.ok(!json.includes('null'));

  // same content, different insertion order -> identical bytes
  const shuffled = sample();
  const m = shuffled.candidates[0]!.metrics;
  shuffled.candidates[0]!.metrics = {
    custom: m.custom!,
    accuracy: m.accuracy!,
    'latency.p50': m['latency.p50']!,
    'size.bytes': m['size.bytes']!,
  };
  shuffled.environment = { platform: 'linux', threads: 1, node: 'v20.0.0' };
  assert.equal(renderJson(shuffled), json);

  const back = parseReport(json);
  assert.deepEqual(back, parseReport(JSON.parse(json)));
  assert.equal(renderJson(back), json);
  assert.equal(back.candidates[0]!.metrics['latency.p50']!.ratio, 0.48);
});

test('parseReport refuses other schemas, bad JSON and malformed rows with INVALID_DATA naming the place', () => {
  const isData = (re: RegExp) => (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_DATA' && re.test(e.message);
  assert.throws(() => parseReport('{', 'r.json'), isData(/^r\.json: not valid JSON/));
  assert.throws(
    () => parseReport({ ...JSON.parse(renderJson(sample())), schema: 'shrink.report/v0' }, 'r.json'),
    isData(/"shrink\.report\/v0" is not supported; expected "shrink\.report\/v1"/),
  );
  const bad = JSON.parse(renderJson(sample()));
  bad.candidates[0].metrics.accuracy.better = 'sideways';
  assert.throws(() => parseReport(bad, 'r.json'), isData(/r\.json\.candidates\[0\]\.metrics\.accuracy\.better/));
});

test("a paired latency ratio that disagrees with the two medians is noise: verdict same; the change percent is the delta's own", () => {
  // Measured on a real OCR model: medians 1.32 -> 1.26 ms, median of per-pair ratios 1.07.
  const noisy = metric('latency.p50', 1.32, 1.26, { ratio: 1.07 });
  assert.equal(verdict(noisy), 'same');
  assert.equal(formatChange(noisy), '-60.0 µs (-4.5 %)');
  assert.equal(verdict(metric('latency.p50', 1.32, 1.0, { ratio: 0.76 })), 'better');
  assert.equal(verdict(metric('latency.p50', 1.0, 1.32, { ratio: 1.3 })), 'worse');
  assert.equal(verdict(metric('size.bytes', 1000, 250)), 'better');
});

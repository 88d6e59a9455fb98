// Reports for the renderer tests: one with every optional part (gates, steps, layers, search, energy),
// numbers in the shape compareModels and a pipeline produce.
import { createReport, metric, metricRow, type CandidateReport, type Report, type TrialRecord } from './report.js';

export const HOSTILE = '<script>alert(1)</script>';

const ENERGY_NOTE = 'cpu-power-model: 85 W/socket x p50 latency; CO2e at 475 g/kWh';
const GRID = 'energy x 475 gCO2e/kWh';

function energyRows(bJ: number, cJ: number) {
  const kwh = (j: number) => (j * 1e6) / 3.6e6;
  return {
    'energy.perInference': metric('energy.perInference', bJ, cJ, { method: ENERGY_NOTE }),
    'energy.kWhPerMillion': metric('energy.kWhPerMillion', kwh(bJ), kwh(cJ), { method: 'cpu-power-model' }),
    'co2e.perMillion': metric('co2e.perMillion', kwh(bJ) * 475, kwh(cJ) * 475, { method: GRID }),
  };
}

function int8(): CandidateReport {
  return {
    name: 'mlp-int8',
    path: 'out/mlp_int8.onnx',
    metrics: {
      'size.bytes': metric('size.bytes', 1_000_000, 262_144),
      params: metric('params', 250_000, 250_000),
      'latency.p50': metric('latency.p50', 2, 1, { ratio: 0.48, method: 'interleaved A/B, 50 pairs, batch 1' }),
      accuracy: metric('accuracy', 0.95, 0.9375, { method: 'top-1 on 360 samples' }),
      ...energyRows(0.00017, 0.000085),
    },
    notes: ['Softmax skipped (no handler)'],
    steps: [
      {
        kind: 'quantize',
        options: { mode: 'static', calibration: 'digits', perChannel: true },
        seconds: 1.25,
        notes: ['3 MatMul quantized'],
      },
    ],
    layers: [
      { name: 'dense_1/MatMul', opType: 'MatMul', sqnrDb: 38.2, action: 'quantized' },
      { name: 'dense_2/MatMul', opType: 'MatMul', sqnrDb: 31.7, action: 'quantized' },
      { name: 'logits/MatMul', opType: 'MatMul', sqnrDb: 24.9, action: 'quantized' },
      { name: 'softmax', opType: 'Softmax', action: 'skipped: no handler' },
    ],
    kernels: [
      {
        opType: 'MatMulInteger',
        form: 'u8 x s8',
        count: 3,
        path: 'MLAS u8s8 GEMM, VPDPBUSD (int32 sums)',
        source: 'microsoft/onnxruntime PR #12088',
      },
      {
        opType: 'Conv',
        form: 'int8 weights',
        count: 1,
        path: 'float kernel; weights dequantized once when the session loads (constant folding)',
        source: 'ConstantFolding',
      },
    ],
  };
}

function pruned(name = 'mlp-pruned'): CandidateReport {
  return {
    name,
    metrics: {
      'size.bytes': metric('size.bytes', 1_000_000, 520_000),
      'params.nonzero': metric('params.nonzero', 250_000, 125_000),
      'latency.p50': metric('latency.p50', 2, 1.8, { ratio: 0.91, method: 'interleaved A/B, 50 pairs, batch 1' }),
      accuracy: metric('accuracy', 0.95, 0.9444, { method: 'top-1 on 360 samples' }),
      ...energyRows(0.00017, 0.000153),
    },
    steps: [
      {
        kind: 'prune',
        options: { sparsity: 0.5, structured: false },
        seconds: 14.5,
        notes: ['fine-tuned 2 epochs'],
        energy: { joules: 1232, kWh: 0.000342, gCO2e: 0.1626, method: 'cpu-power-model, 85 W/socket' },
      },
    ],
    layers: [
      { name: 'dense_1/MatMul', opType: 'MatMul', sparsity: 0.5, action: 'pruned' },
      { name: 'dense_2/MatMul', opType: 'MatMul', sparsity: 0.52, action: 'pruned' },
      { name: 'logits/MatMul', opType: 'MatMul', sparsity: 0.1, action: 'pruned' },
    ],
  };
}

function trial(i: number, bytes: number, p50: number, acc: number, passed: boolean): TrialRecord {
  return {
    name: `t${i}`,
    config: [
      { kind: 'prune', sparsity: Math.round(bytes / 10_000) / 100 },
      { kind: 'quantize', mode: 'dynamic' },
    ],
    metrics: {
      'size.bytes': metric('size.bytes', 1_000_000, bytes),
      'latency.p50': metric('latency.p50', 2, p50),
      accuracy: metric('accuracy', 0.95, acc),
    },
    passed,
    failedGates: passed ? [] : ['accuracy.delta >= -0.01'],
    seconds: 3 + i / 10,
  };
}

/** A pipeline report with two candidates, gates (one failing), steps, per-layer detail, a search and energy. */
export function fullReport(): Report {
  const trials = [
    trial(1, 700_000, 1.9, 0.948, true),
    trial(2, 400_000, 1.5, 0.944, true),
    trial(3, 260_000, 1.1, 0.93, false),
    trial(4, 520_000, 1.8, 0.9444, true),
    trial(5, 300_000, 1.2, 0.942, true),
  ];
  return {
    ...createReport({
      createdAt: '2026-11-28T12:00:00.000Z',
      baseline: { name: 'mlp', path: 'models/mlp.onnx' },
      candidates: [int8(), pruned()],
      environment: {
        shrink: '0.1.0',
        node: 'v20.20.2',
        platform: 'linux',
        arch: 'x64',
        threads: 1,
        onnxruntime: '1.30.0',
        cpuModel: 'Test CPU @ 2.0GHz',
      },
      notes: ['latency measured at batch 1'],
    }),
    target: {
      name: 'cpu',
      resolved: 'cpu-x86-avx512-vnni',
      runtime: 'onnxruntime-node',
      runtimeVersion: '1.30.0',
      isa: 'avx512-vnni',
      threads: 1,
      measured: true,
      measurement: 'measured on this machine (cpu-x86-avx512-vnni) in onnxruntime-node 1.30.0',
    },
    gates: [
      { expression: 'accuracy.delta >= -0.01', candidate: 'mlp-int8', passed: false, values: { 'accuracy.delta': 0.9375 - 0.95 } },
      { expression: 'size.bytes.ratio <= 0.6', candidate: 'mlp-int8', passed: true, values: { 'size.bytes.ratio': 0.262144 } },
      { expression: 'latency.p50.ratio <= 0.95', candidate: 'mlp-pruned', passed: true, values: { 'latency.p50.ratio': 0.91 } },
      {
        expression: 'macs.ratio <= 0.5',
        candidate: 'mlp-pruned',
        passed: false,
        values: { 'macs.ratio': null },
        error: 'metric macs is missing',
      },
    ],
    search: {
      objective: 'smallest size.bytes among trials passing every gate',
      trials,
      best: 't5',
      pareto: { 'size.bytes/accuracy': ['t1', 't2', 't5'], 'latency.p50/accuracy': ['t1', 't4', 't2', 't5'] },
      workers: 2,
      seconds: 17.5,
    },
  };
}

/** A plain comparison (no pipeline fields, no energy), with a hostile candidate name. */
export function plainReport(name = HOSTILE): Report {
  return createReport({
    createdAt: '2026-11-28T12:00:00.000Z',
    baseline: { name: 'mlp' },
    candidates: [
      {
        name,
        metrics: {
          'size.bytes': metric('size.bytes', 1_000_000, 250_000),
          accuracy: metric('accuracy', 0.95, 0.9375),
          custom: metricRow(2, 3, 'widgets', 'lower'),
        },
        notes: [`note about ${name}`],
      },
    ],
    environment: {},
  });
}

/** A search with `n` trials, for truncation. */
export function bigSearchReport(n: number): Report {
  const r = fullReport();
  const trials: TrialRecord[] = [];
  for (let i = 1; i <= n; i++)
    trials.push(trial(i, 200_000 + ((i * 7919) % 800_000), 1 + ((i * 31) % 100) / 100, 0.9 + ((i * 13) % 50) / 1000, i % 3 !== 0));
  r.search = { ...r.search!, trials, best: `t${n}`, pareto: { 'size.bytes/accuracy': [`t${n}`, 't2'] } };
  return r;
}

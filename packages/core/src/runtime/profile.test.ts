import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isShrinkError } from '../errors.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { compareModels } from './profile.js';

function dense(w: number) {
  return makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'W'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', ['N', 4])],
      outputs: [makeValueInfo('y', 'float32', ['N', 4])],
      initializers: [makeTensor('W', 'float32', [4, 4], new Float32Array(16).fill(w))],
    }),
  );
}

test('compareModels: a candidate computing non-finite outputs is named, with the metric, in one line', async () => {
  // 3e38 * 4 inputs overflows float32: finite weights, infinite outputs (as an infinite quantization scale gives).
  const candidate = { name: 'model_quantized.onnx', model: dense(3e38) };
  await assert.rejects(
    compareModels({ name: 'base', model: dense(0.01) }, [candidate], { runs: 2, warmup: 0, threads: 1 }),
    (e: unknown) => {
      assert.ok(isShrinkError(e), String(e));
      assert.equal(e.code, 'INVALID_MODEL');
      assert.match(
        e.message,
        /^candidate model model_quantized\.onnx: metric [\w.]+ is (NaN|-?Infinity) — the model computes non-finite outputs/,
      );
      assert.doesNotMatch(e.message, /\n/);
      return true;
    },
  );
});

test('compareModels: throughput and energy take their ratio from the interleaved pairs, as latency p50 does', async () => {
  const { report } = await compareModels({ name: 'base', model: dense(0.01) }, [{ name: 'same', model: dense(0.02) }], {
    runs: 6,
    warmup: 1,
    threads: 1,
  });
  const m = report.candidates[0]!.metrics;
  const paired = m['latency.p50']!.ratio!;
  assert.ok(paired > 0, JSON.stringify(m['latency.p50']));
  // Exact: the same number, not two medians that noise can set apart.
  assert.equal(m['throughput']!.ratio, 1 / paired);
  // The power model's energy is watts x median time; RAPL's is measured on its own.
  if (/^cpu-power-model/.test(m['energy.kWhPerMillion']!.method ?? ''))
    for (const k of ['energy.perInference', 'energy.kWhPerMillion', 'co2e.perMillion']) assert.equal(m[k]!.ratio, paired, k);
  assert.match(m['throughput']!.method!, /ratio from the interleaved pairs/);
});

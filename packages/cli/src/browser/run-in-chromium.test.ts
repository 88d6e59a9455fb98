// Models run in a real Chromium (Debian's chromium, playwright-core, onnxruntime-web from a 127.0.0.1
// server) give onnxruntime-node's outputs; WebGPU either runs and agrees or says plainly why not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@shrink/core';
import { createSession } from '@shrink/core/runtime';
import { chromiumCheck, chromiumPath, runInChromium, type BrowserTensor, type ChromiumRun } from './index.js';

const CHROMIUM = chromiumPath();
const skip = existsSync(CHROMIUM)
  ? false
  : `no ${CHROMIUM}; install it with \`apt-get install chromium\` (Debian) or set SHRINK_CHROMIUM to run models in a browser`;

/** Seeded values in [-1, 1): the same model and samples on every machine. */
function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** x[N,16] → Gemm 16→32 → Relu → MatMul 32→8 → Add: 'logits' (float), and ArgMax of it: 'label' (int64). */
function mlp(perturb = 0): Uint8Array {
  const w = (name: string, dims: number[], seed: number) => {
    const v = seeded(
      dims.reduce((a, b) => a * b, 1),
      seed,
    ).map((x) => x * 0.5 + perturb * Math.sin(seed * x * 1000));
    return makeTensor(name, 'float32', dims, v);
  };
  const graph = makeGraph({
    nodes: [
      makeNode('Gemm', ['x', 'w1', 'b1'], ['h'], {}, { name: 'fc1' }),
      makeNode('Relu', ['h'], ['r'], {}, { name: 'relu' }),
      makeNode('MatMul', ['r', 'w2'], ['m'], {}, { name: 'fc2' }),
      makeNode('Add', ['m', 'b2'], ['logits'], {}, { name: 'bias2' }),
      makeNode('ArgMax', ['logits'], ['label'], { axis: 1, keepdims: 0 }, { name: 'argmax' }),
    ],
    inputs: [makeValueInfo('x', 'float32', ['N', 16])],
    outputs: [makeValueInfo('logits', 'float32', ['N', 8]), makeValueInfo('label', 'int64', ['N'])],
    initializers: [w('w1', [16, 32], 1), w('b1', [32], 2), w('w2', [32, 8], 3), w('b2', [8], 4)],
  });
  return encodeModel(makeModel(graph, { opset: 13 }));
}

const samples = [0, 1, 2].map((i) => ({ x: { type: 'float32' as const, data: seeded(4 * 16, 100 + i).map((v) => v * 3), dims: [4, 16] } }));

/** onnxruntime-node's outputs of the same model on the same samples. */
async function nodeOutputs(bytes: Uint8Array): Promise<Array<Record<string, BrowserTensor>>> {
  const s = await createSession(bytes, { threads: 1 });
  try {
    const out: Array<Record<string, BrowserTensor>> = [];
    for (const feeds of samples) {
      const r = await s.run(feeds);
      out.push(
        Object.fromEntries(
          Object.entries(r).map(([k, t]) => [k, { type: t.type, data: t.data as BrowserTensor['data'], dims: [...t.dims] }]),
        ),
      );
    }
    return out;
  } finally {
    await s.release();
  }
}

/**
 * Same kernels up to summation order: every float differs by at most 1e-4 of the output's largest
 * magnitude (fp32 on 16- and 32-term dot products is ~1e-6 off), integer outputs are equal.
 */
function assertMatches(run: Extract<ChromiumRun, { available: true }>, expected: Array<Record<string, BrowserTensor>>): void {
  const got = run.models[0]!.outputs;
  assert.equal(got.length, expected.length);
  expected.forEach((want, s) => {
    assert.deepEqual(Object.keys(got[s]!).sort(), Object.keys(want).sort());
    for (const [name, w] of Object.entries(want)) {
      const g = got[s]![name]!;
      assert.equal(g.type, w.type, `${name} type`);
      assert.deepEqual([...g.dims], [...w.dims], `${name} dims`);
      if (w.type === 'float32') {
        const a = g.data as Float32Array;
        const b = w.data as Float32Array;
        const peak = Math.max(...b.map(Math.abs));
        let worst = 0;
        for (let j = 0; j < b.length; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!));
        assert.ok(peak > 0.1, `sample ${s} '${name}' carries a signal (peak ${peak})`);
        assert.ok(worst <= 1e-4 * peak, `sample ${s} '${name}': max abs difference ${worst} > 1e-4 × ${peak}`);
      } else assert.deepEqual([...g.data], [...w.data], `sample ${s} '${name}'`);
    }
  });
}

test(
  'a float MLP runs in Chromium (onnxruntime-web wasm) with onnxruntime-node outputs, nothing beyond 127.0.0.1',
  { skip, timeout: 120_000 },
  async () => {
    const bytes = mlp();
    const t0 = Date.now();
    const run = await runInChromium([{ name: 'mlp', bytes }], samples, { backend: 'wasm', runs: 10 });
    const ms = Date.now() - t0;
    assert.ok(run.available, run.available ? '' : run.reason);
    assert.match(run.browser, /^Chromium \d+\./);
    assert.equal(run.runtime, 'onnxruntime-web 1.30.0 wasm');
    assert.deepEqual(run.offOrigin, []);
    assert.equal(run.models[0]!.latencyMs.runs, 10);
    assert.ok(run.models[0]!.latencyMs.p50 >= 0);
    assertMatches(run, await nodeOutputs(bytes));
    console.log(`# wasm: ${run.browser}, ${run.runtime}, p50 ${run.models[0]!.latencyMs.p50.toFixed(3)} ms, whole call ${ms} ms`);
  },
);

test(
  'webgpu in Chromium either runs the MLP with onnxruntime-node outputs or says why not, within its budget',
  { skip, timeout: 120_000 },
  async () => {
    const bytes = mlp();
    const t0 = Date.now();
    const run = await runInChromium([{ name: 'mlp', bytes }], samples, { backend: 'webgpu', runs: 5, timeoutMs: 60_000 });
    const ms = Date.now() - t0;
    assert.ok(ms < 70_000, `took ${ms} ms`);
    if (!run.available) {
      assert.ok(run.reason.length > 0);
      console.log(`# webgpu not available: ${run.reason}`);
      return;
    }
    assert.equal(run.runtime, 'onnxruntime-web 1.30.0 webgpu');
    assert.ok(run.adapter !== undefined && run.adapter.length > 0);
    assert.deepEqual(run.offOrigin, []);
    assertMatches(run, await nodeOutputs(bytes));
    console.log(`# webgpu: adapter ${run.adapter}, p50 ${run.models[0]!.latencyMs.p50.toFixed(3)} ms, whole call ${ms} ms`);
  },
);

test(
  'chromiumCheck compares a perturbed candidate with its baseline in the same page: every output, latency ratio',
  { skip, timeout: 120_000 },
  async () => {
    const t0 = Date.now();
    const check = await chromiumCheck({ name: 'baseline', bytes: mlp() }, { name: 'candidate', bytes: mlp(0.01) }, samples, 'wasm', {
      runs: 10,
    });
    const ms = Date.now() - t0;
    assert.ok(check.available, check.notes.join('; '));
    assert.deepEqual(Object.keys(check.fidelity!).sort(), ['label', 'logits']);
    // A 1 % perturbation of weights of magnitude ~0.5: close but not identical logits.
    assert.ok(check.fidelity!['logits']! > 0.99 && check.fidelity!['logits']! < 1, `logits cosine ${check.fidelity!['logits']}`);
    assert.ok(check.fidelity!['label']! >= 0 && check.fidelity!['label']! <= 1);
    assert.ok(check.latencyRatio! > 0);
    assert.match(
      check.notes[0]!,
      /^chromium \d+ \(onnxruntime-web 1\.30\.0 wasm\): candidate vs baseline .* worst output '\w+'; latency [\d.]+x of the baseline in the same runtime \(p50 of 10 interleaved (runs|rounds of \d+ runs)\)$/,
    );
    console.log(`# ${check.notes.join(' | ')} (whole check ${ms} ms)`);

    const same = await chromiumCheck({ name: 'baseline', bytes: mlp() }, { name: 'copy', bytes: mlp() }, samples, 'wasm', { runs: 2 });
    assert.deepEqual(same.fidelity, { logits: 1, label: 1 });
  },
);

test(
  'a model onnxruntime-web cannot load, and a budget too short to finish: available false, the model or stage named',
  { skip, timeout: 120_000 },
  async () => {
    const broken = await chromiumCheck(
      { name: 'baseline', bytes: mlp() },
      { name: 'candidate', bytes: Uint8Array.of(1, 2, 3, 4) },
      samples,
      'wasm',
    );
    assert.equal(broken.available, false);
    assert.match(broken.notes[0]!, /^not verified in Chromium: onnxruntime-web could not load 'candidate' in Chromium: .+/);

    const t0 = Date.now();
    const run = await runInChromium([{ name: 'mlp', bytes: mlp() }], samples, { backend: 'wasm', timeoutMs: 300 });
    assert.ok(Date.now() - t0 < 30_000, `a 300 ms budget took ${Date.now() - t0} ms`);
    assert.equal(run.available, false);
    assert.match(run.available ? '' : run.reason, /^Chromium did not finish within 0\.3 s \(.+\)$/);
  },
);

test('no browser at the configured path: available false with the reason, nothing thrown', async () => {
  const saved = process.env['SHRINK_CHROMIUM'];
  process.env['SHRINK_CHROMIUM'] = '/nonexistent/chromium';
  try {
    const check = await chromiumCheck({ name: 'a', bytes: mlp() }, { name: 'b', bytes: mlp() }, samples, 'wasm');
    assert.equal(check.available, false);
    assert.deepEqual(check.notes, [
      "not verified in Chromium: no Chromium at /nonexistent/chromium (install Debian's chromium or set SHRINK_CHROMIUM)",
    ]);
  } finally {
    if (saved === undefined) delete process.env['SHRINK_CHROMIUM'];
    else process.env['SHRINK_CHROMIUM'] = saved;
  }
});

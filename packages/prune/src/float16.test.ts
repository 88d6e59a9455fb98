// Models exported in half precision keep float16 weights: magnitude and N:M pruning read them decoded and
// write them back as float16 (zeros are exact in any float), instead of skipping every layer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  float16ToFloat32,
  float32ToFloat16,
  Graph,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  parseOptions,
} from '@shrink/core';
import { pruneMagnitude } from './magnitude.js';
import { pruneNM } from './nm.js';
import { pruneOptionsSchema } from './options.js';
import { randn, runModel } from './unstructured.fixture.js';

/** x [B, 64] float32 -> Cast to float16 -> MatMul with a float16 weight [64, 32] -> Cast back -> y. */
function halfMlp() {
  const w = float32ToFloat16(randn(5, 64 * 32, 0.2));
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Cast', ['x'], ['xh'], { to: 10 }),
        makeNode('MatMul', ['xh', 'W'], ['yh'], {}, { name: 'fc' }),
        makeNode('Cast', ['yh'], ['y'], { to: 1 }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['B', 64])],
      outputs: [makeValueInfo('y', 'float32', ['B', 32])],
      initializers: [makeTensor('W', 'float16', [64, 32], w)],
    }),
    { opset: 17 },
  );
}

const weight = (m: Parameters<typeof Graph.from>[0]) => Graph.from(m).readInitializer('W');

test('magnitude pruning of float16 weights: half of them zero, still float16, and the model runs as pruned', async () => {
  const model = halfMlp();
  const before = weight(model);
  const out = pruneMagnitude(model, parseOptions(pruneOptionsSchema, { method: 'magnitude', sparsity: 0.5 }));
  const after = weight(out.model);
  assert.equal(after.dtype, 'float16');
  const [b, a] = [float16ToFloat32(before.data as Uint16Array), float16ToFloat32(after.data as Uint16Array)];
  const zeros = a.filter((v) => v === 0).length;
  assert.equal(zeros, 1024);
  // Kept weights are unchanged bit for bit; every pruned one was no larger than every kept one.
  let maxPruned = 0;
  let minKept = Infinity;
  a.forEach((v, i) => (v === 0 ? (maxPruned = Math.max(maxPruned, Math.abs(b[i]!))) : (minKept = Math.min(minKept, Math.abs(b[i]!)))));
  assert.ok(maxPruned <= minKept);
  assert.ok(a.every((v, i) => v === 0 || v === b[i]));
  // onnxruntime computes what the pruned weights say (checked against a float32 reference of them).
  const x = randn(6, 2 * 64);
  const y = await runModel(out.model, 'x', x, [2, 64]);
  for (let r = 0; r < 2; r++)
    for (let c = 0; c < 32; c++) {
      let ref = 0;
      for (let k = 0; k < 64; k++) ref += float16ToFloat32(float32ToFloat16(Float32Array.of(x[r * 64 + k]!)))[0]! * a[k * 32 + c]!;
      assert.ok(Math.abs(y[r * 32 + c]! - ref) <= 0.02 + 0.01 * Math.abs(ref), `y[${r},${c}] ${y[r * 32 + c]} vs ${ref}`);
    }
  assert.equal(out.report.layers.find((l) => l.name === 'fc')?.action, 'pruned');
});

test('2:4 pruning of float16 weights keeps the pattern and the dtype', () => {
  const out = pruneNM(halfMlp(), parseOptions(pruneOptionsSchema, { method: 'nm', n: 2, m: 4 }));
  const after = weight(out.model);
  assert.equal(after.dtype, 'float16');
  assert.equal(float16ToFloat32(after.data as Uint16Array).filter((v) => v === 0).length, 1024);
});

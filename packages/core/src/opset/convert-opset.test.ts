import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/builder.js';
import { decodeModel, encodeModel } from '../onnx/codec.js';
import { opsetVersionOf } from '../onnx/graph.js';
import { makeTensor, type TensorValue } from '../onnx/tensor.js';
import { convertOpset } from './convert-opset.js';
import { compareOutputs, runOnce, type Output } from './ort-compare.js';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Fixture {
  opset: number;
  feeds: Record<string, { dims: number[]; data: number[] }>;
  expected: Record<string, { dims: number[]; data: number[] }>;
}

function fixture(opset: number): {
  model: ReturnType<typeof decodeModel>;
  feeds: Record<string, TensorValue>;
  expected: Record<string, Output>;
} {
  const model = decodeModel(readFileSync(path.join(here, 'fixtures', `cnn-opset${opset}.onnx`)));
  const f = JSON.parse(readFileSync(path.join(here, 'fixtures', `cnn-opset${opset}.json`), 'utf8')) as Fixture;
  const feeds: Record<string, TensorValue> = {};
  for (const [k, v] of Object.entries(f.feeds)) feeds[k] = { name: k, dtype: 'float32', dims: v.dims, data: Float32Array.from(v.data) };
  const expected: Record<string, Output> = {};
  for (const [k, v] of Object.entries(f.expected)) expected[k] = { dims: v.dims, values: v.data };
  return { model, feeds, expected };
}

// float32 through different kernels (Resize vs Upsample, Flatten+Softmax vs coerced Softmax): rounding only.
const TOL = { rtol: 1e-4, atol: 1e-5 };

for (const from of [7, 9, 10]) {
  test(`torch opset-${from} CNN converts to 11, 13, 17 and 21 with the same outputs in onnxruntime`, async () => {
    const { model, feeds, expected } = fixture(from);
    const before = encodeModel(model);
    const original = await runOnce(before, feeds);
    // The fixture's own check: onnxruntime on the old graph computes what torch (and old Softmax) did.
    // Except 'linear': ONNX's Upsample is asymmetric where torch's bilinear is half-pixel (torch warns).
    const { linear: _linear, ...comparable } = expected;
    const sanity = compareOutputs(original, comparable, { rtol: 1e-3, atol: 1e-4 });
    assert.ok(sanity.ok, `original vs torch: ${sanity.detail}`);
    for (const target of [11, 13, 17, 21]) {
      const r = convertOpset(model, target);
      assert.equal(opsetVersionOf(r.model, ''), target);
      const bytes = encodeModel(r.model);
      const out = await runOnce(bytes, feeds);
      const cmp = compareOutputs(out, original, TOL);
      assert.ok(cmp.ok, `opset ${from} → ${target}: ${cmp.detail}`);
      assert.ok(cmp.cosine > 0.999999, `cosine ${cmp.cosine}`);
      // Every old-style node became new-style: no attribute the new schemas dropped is left.
      const GONE: Record<string, string[]> = {
        Clip: ['min', 'max'],
        Pad: ['pads', 'value'],
        Slice: ['starts', 'ends'],
        TopK: ['k'],
        Resize: ['scales'],
      };
      for (const n of r.model.graph!.node!) {
        const names = (n.attribute ?? []).map((a) => a.name);
        for (const gone of GONE[n.opType ?? ''] ?? []) assert.ok(!names.includes(gone), `${n.opType} keeps '${gone}' at ${target}`);
        if (target >= 13 && n.opType === 'Split') assert.ok(!names.includes('split'));
        if (target >= 12 && n.opType === 'Dropout') assert.ok(!names.includes('ratio'));
        if (target >= 13 && (n.opType === 'Squeeze' || n.opType === 'Unsqueeze')) assert.ok(!names.includes('axes'));
        if (target >= 18 && n.opType === 'ReduceMean') assert.ok(!names.includes('axes'));
        assert.notEqual(n.opType, 'Upsample');
      }
    }
    // Pure: the input model is untouched.
    assert.deepEqual(encodeModel(model), before);
  });
}

test('opset 9 → 13 reports every changed node by op, raises IR, and notes the coerced Softmax', () => {
  const { model } = fixture(9);
  const r = convertOpset(model, 13);
  assert.equal(r.fromOpset, 9);
  assert.equal(r.irVersion.to, 7);
  for (const op of ['Upsample', 'Clip', 'Pad', 'Slice', 'TopK', 'Squeeze', 'Unsqueeze', 'Split', 'Dropout', 'Softmax']) {
    assert.ok((r.counts[op] ?? 0) > 0, `${op} not counted: ${JSON.stringify(r.counts)}`);
  }
  const soft = r.changes.find((c) => c.node === 'added_softmax_axis1');
  assert.match(soft?.what ?? '', /Flatten\/Reshape/);
  assert.ok(r.nodesChanged > 10 && r.nodesChanged <= r.changes.length);
  // The Upsample became a Resize that keeps Upsample's pixel grid.
  const resize = r.model.graph!.node!.filter((n) => n.opType === 'Resize');
  assert.ok(resize.length >= 1);
  for (const n of resize) {
    const ctm = (n.attribute ?? []).find((a) => a.name === 'coordinate_transformation_mode');
    assert.equal(new TextDecoder().decode(ctm?.s ?? new Uint8Array()), 'asymmetric');
  }
});

test('the IR 3 fixture (opset 7) loses its initializers-as-inputs when the IR reaches 4', () => {
  const { model } = fixture(7);
  const inits = new Set(model.graph!.initializer!.map((t) => t.name));
  assert.ok(
    model.graph!.input!.some((v) => inits.has(v.name!)),
    'fixture should list initializers as inputs',
  );
  const r = convertOpset(model, 13);
  assert.deepEqual(
    r.model.graph!.input!.map((v) => v.name),
    ['x'],
  );
  assert.ok(r.notes.some((n) => /plain initializers/.test(n)));
});

test('opset 10 → 13 → 10 comes back with the same outputs (downgrade of constant attribute inputs)', async () => {
  const { model, feeds } = fixture(10);
  const original = await runOnce(encodeModel(model), feeds);
  const up = convertOpset(model, 13).model;
  const down = convertOpset(up, 10);
  assert.ok((down.counts['Squeeze'] ?? 0) > 0 && (down.counts['Resize'] ?? 0) > 0);
  const out = await runOnce(encodeModel(down.model), feeds);
  const cmp = compareOutputs(out, original, TOL);
  assert.ok(cmp.ok, cmp.detail);
});

test('a node whose schema changed without a rule refuses in one line naming node, op and step', () => {
  // Scan-8 had a batch axis that Scan-9 dropped; Shrink has no adapter for it.
  const body = makeGraph({
    nodes: [makeNode('Identity', ['s_in'], ['s_out'])],
    inputs: [makeValueInfo('s_in', 'float32', [1])],
    outputs: [makeValueInfo('s_out', 'float32', [1])],
  });
  const g = makeGraph({
    nodes: [makeNode('Scan', ['', 'x'], ['y'], { body, num_scan_inputs: 1 }, { name: 'the_scan' })],
    inputs: [makeValueInfo('x', 'float32', [1, 1])],
    outputs: [makeValueInfo('y', 'float32', [1, 1])],
  });
  const m = makeModel(g, { opset: 8, irVersion: 3 });
  assert.throws(
    () => convertOpset(m, 13),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'UNSUPPORTED_OP');
      assert.doesNotMatch(e.message, /\n/);
      assert.match(e.message, /node 'the_scan' \(Scan\) at step 8 → 9/);
      return true;
    },
  );
  // Unknown default-domain ops are refused rather than carried to a version that never had them.
  const odd = makeModel(
    makeGraph({
      nodes: [makeNode('ImageScaler', ['x'], ['y'], {}, { name: 'scaler' })],
      inputs: [makeValueInfo('x', 'float32', [1])],
      outputs: [makeValueInfo('y', 'float32', [1])],
    }),
    { opset: 8 },
  );
  assert.throws(() => convertOpset(odd, 9), /node 'scaler' \(ImageScaler\).*not an operator/);
});

test('opset-6 Gemm and Add with broadcast/axis run after conversion and match numpy-style results', async () => {
  // Opset 6: C of Gemm broadcast by attribute; Add with axis=1 aligning a [3] bias with dim 1 of [2,3,4].
  const g = makeGraph({
    nodes: [
      makeNode('Gemm', ['a', 'b', 'c'], ['g'], { broadcast: 1 }, { name: 'gemm6' }),
      makeNode('Add', ['x', 'bias'], ['s'], { broadcast: 1, axis: 1 }, { name: 'add6' }),
    ],
    inputs: [makeValueInfo('a', 'float32', [2, 3]), makeValueInfo('x', 'float32', [2, 3, 4])],
    outputs: [makeValueInfo('g', 'float32', [2, 2]), makeValueInfo('s', 'float32', [2, 3, 4])],
    initializers: [
      makeTensor('b', 'float32', [3, 2], [1, 2, 3, 4, 5, 6]),
      makeTensor('c', 'float32', [2], [10, 20]),
      makeTensor('bias', 'float32', [3], [100, 200, 300]),
    ],
  });
  const m = makeModel(g, { opset: 6, irVersion: 3 });
  const r = convertOpset(m, 13);
  const a = Float32Array.from([1, 0, 0, 0, 1, 1]);
  const x = new Float32Array(24);
  const out = await runOnce(encodeModel(r.model), {
    a: { name: 'a', dtype: 'float32', dims: [2, 3], data: a },
    x: { name: 'x', dtype: 'float32', dims: [2, 3, 4], data: x },
  });
  assert.deepEqual(out['g']!.values, [11, 22, 18, 30]);
  // Each [., c, .] row gets bias[c]: the opset-6 axis alignment, which plain numpy broadcasting of [3] would not give.
  assert.deepEqual(out['s']!.values.slice(0, 12), [100, 100, 100, 100, 200, 200, 200, 200, 300, 300, 300, 300]);
  assert.equal(r.counts['Gemm'], 1);
  assert.equal(r.counts['Add'], 1);
});

test('target opsets outside what the tables cover are refused', () => {
  const { model } = fixture(9);
  assert.throws(() => convertOpset(model, 22), /outside 1\.\.21/);
  assert.throws(() => convertOpset(model, 9.5), /outside/);
});

// The speed guard on real onnxruntime: a region made 16x slower is found by the profiler and rolled back,
// a faster one is kept; both on any CPU, as the gap is far beyond the guard's noise floor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/builder.js';
import { onnx } from '../onnx/proto.js';
import { targetContext } from '../target/targets.js';
import { regionNotes, speedNote, withSpeedGuard, type GuardAttempt, type GuardRerun } from './speed-guard.js';

const N = 192;

function weight(name: string, seed: number): onnx.TensorProto {
  const data = Float32Array.from({ length: N * N }, (_, i) => Math.sin(i * 0.37 + seed) * 0.05);
  return onnx.TensorProto.create({ name, dataType: 1, dims: [N, N], rawData: new Uint8Array(data.buffer) });
}

/** x [batch, N] -> `depth` chained MatMuls -> Relu -> y; the MatMul writing 'h' is named 'mm'. */
function chain(depth: number): onnx.ModelProto {
  const nodes: onnx.NodeProto[] = [];
  let t = 'x';
  for (let i = 0; i < depth; i++) {
    const out = i === depth - 1 ? 'h' : `t${i}`;
    nodes.push(makeNode('MatMul', [t, `w${i}`], [out], {}, { name: i === depth - 1 ? 'mm' : `mm_extra_${i}` }));
    t = out;
  }
  nodes.push(makeNode('Relu', ['h'], ['y'], {}, { name: 'relu' }));
  const graph = makeGraph({
    nodes,
    inputs: [makeValueInfo('x', 'float32', ['batch', N])],
    outputs: [makeValueInfo('y', 'float32', ['batch', N])],
    initializers: Array.from({ length: depth }, (_, i) => weight(`w${i}`, i)),
  });
  return makeModel(graph, { opset: 13 });
}

const target = targetContext('cpu');

test('a region 16x slower than its float version is rolled back, named, and its times reported', { timeout: 120_000 }, async () => {
  const float = chain(1);
  const slow: GuardAttempt = { model: chain(16), changed: [{ name: 'mm', opType: 'MatMul' }] };
  const reruns: GuardRerun[] = [];
  const out = await withSpeedGuard(
    float,
    slow,
    async (change) => {
      reruns.push(change);
      return { model: float, changed: [] };
    },
    target,
    { threads: 1 },
    { maxTimeMs: 1500 },
  );
  assert.deepEqual(reruns, [{ floatCompute: [], exclude: ['mm'] }]);
  assert.equal(out.attempt.model, float);
  assert.deepEqual(out.summary.rolledBack, ['mm']);
  assert.deepEqual(out.summary.batches, [1, 32]);
  for (const row of out.summary.regions) {
    assert.equal(row.rolledBack, true);
    assert.ok(row.candidateUs > 4 * row.floatUs, `batch ${row.batch}: ${row.candidateUs} µs vs ${row.floatUs} µs`);
  }
  assert.match(out.why.get('mm') ?? '', /left float: slower than float on cpu/);
  assert.match(out.notes[0] ?? '', /speed guard on cpu .*1 changed nodes computed in float again/);
});

test('with a float-compute form, slow regions are moved there (not left float)', { timeout: 120_000 }, async () => {
  const float = chain(1);
  const reruns: GuardRerun[] = [];
  await withSpeedGuard(
    float,
    { model: chain(16), changed: [{ name: 'mm', opType: 'MatMul' }] },
    async (change) => {
      reruns.push(change);
      return { model: float, changed: [{ name: 'mm', opType: 'MatMul' }] };
    },
    target,
    { threads: 1 },
    { maxTimeMs: 1500, floatCompute: true },
  );
  assert.deepEqual(reruns[0], { floatCompute: ['mm'], exclude: [] });
});

test('a faster output is kept as it is, and the whole-model ratio says so', { timeout: 120_000 }, async () => {
  const float = chain(16);
  const fast: GuardAttempt = { model: chain(1), changed: [{ name: 'mm', opType: 'MatMul' }] };
  const out = await withSpeedGuard(
    float,
    fast,
    () => Promise.reject(new Error('no rerun expected')),
    target,
    { threads: 1 },
    { maxTimeMs: 1500 },
  );
  assert.equal(out.attempt, fast);
  assert.deepEqual(out.summary.rolledBack, []);
  assert.equal(out.summary.rolledBackAll, false);
  for (const [batch, r] of Object.entries(out.summary.wholeRatio)) assert.ok(r < 0.5, `batch ${batch}: ${r}`);
});

test('a target this machine cannot run is not timed, and the note says why', async () => {
  const other = targetContext('webgpu', 'cpu-x86-avx2');
  const first: GuardAttempt = { model: chain(1), changed: [{ name: 'mm', opType: 'MatMul' }] };
  const out = await withSpeedGuard(chain(1), first, () => Promise.reject(new Error('no rerun')), other, {});
  assert.equal(out.attempt, first);
  assert.match(out.notes[0] ?? '', /speed not checked on webgpu/);
});

test('regions with no kernel time on either side, or a batch whose profile was empty, are said to be unjudged, never "none slower" silently', () => {
  const row = (floatUs: number, candidateUs: number) => ({
    batch: 1,
    nodes: ['n'],
    floatUs,
    candidateUs,
    ratio: floatUs > 0 ? candidateUs / floatUs : 1,
    rolledBack: false,
  });
  const base = { target: 'cpu', runtime: 'onnxruntime-node', rolledBack: [], wholeRatio: { 1: 1.01, 32: 0.99 }, rolledBackAll: false };
  const some = speedNote({ ...base, batches: [1], regions: [row(10, 9), row(0, 0), row(0, 0)] });
  assert.match(some, /: 3 changed regions profiled against float \(2 with no kernel time on either side, not judged\); none slower/);
  const empty = speedNote({ ...base, batches: [1, 32], regions: [row(10, 9)], notProfiled: [32] });
  assert.match(
    empty,
    /: 1 changed regions profiled against float; onnxruntime's profile held no kernel times at batch 32, so no region was judged there; none slower/,
  );
  assert.deepEqual(regionNotes([row(0, 0), row(10, 12)]).length, 1);
});

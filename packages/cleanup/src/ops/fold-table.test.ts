// Every op of the fold table against onnxruntime's kernel: a node on constants is folded, and the
// folded model's output equals what onnxruntime computes from the original graph, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeValueInfo, type AttrInput, type DType, type onnx } from '@shrink/core';
import { cleanupModel } from '../cleanup-model.js';
import { assertSameOutputs, runOrt, seededFloats, tensor, type OrtFeeds } from '../ort.fixture.js';

const rand = seededFloats(7);

interface Case {
  op: string;
  inputs: Array<onnx.TensorProto | ''>;
  attrs?: Record<string, AttrInput>;
  out: DType;
  opset?: number;
  /** Graph inputs the node reads by name (Shape), with feeds. */
  graphInputs?: onnx.ValueInfoProto[];
  feeds?: OrtFeeds;
  /** Constants given as Constant nodes instead of initializers. */
  asConstantNodes?: boolean;
  /** A node after the tested one, for an output type onnxruntime-node cannot return (bfloat16): it writes y. */
  then?: { op: string; attrs?: Record<string, AttrInput> };
}

function caseModel(c: Case): onnx.ModelProto {
  const consts = c.inputs.filter((t): t is onnx.TensorProto => t !== '');
  const names = c.inputs.map((t) => (t === '' ? '' : t.name));
  const inputNames = [...(c.graphInputs ?? []).map((v) => v.name), ...names];
  const nodes = [
    ...(c.asConstantNodes ? consts.map((t) => makeNode('Constant', [], [t.name], { value: t })) : []),
    makeNode(c.op, inputNames, [c.then ? 'mid' : 'y'], c.attrs, { name: 'folded' }),
    ...(c.then ? [makeNode(c.then.op, ['mid'], ['y'], c.then.attrs)] : []),
  ];
  const graph = makeGraph({
    nodes,
    inputs: c.graphInputs ?? [],
    outputs: [makeValueInfo('y', c.out)],
    initializers: c.asConstantNodes ? [] : consts,
  });
  return makeModel(graph, { opset: c.opset ?? 17 });
}

/** Folds the case and checks it against onnxruntime; returns the cleanup report. */
async function folds(c: Case) {
  const model = caseModel(c);
  const r = cleanupModel(model);
  assert.equal(r.report.folded, c.then ? 2 : 1, `${c.op} not folded: ${JSON.stringify(r.report.nodes)}`);
  // The node wrote a graph output: a Constant node writes it now, under the same name.
  assert.deepEqual(
    r.model.graph!.node!.map((n) => n.opType),
    ['Constant'],
  );
  assertSameOutputs(await runOrt(model, c.feeds), await runOrt(r.model, c.feeds));
  return r.report;
}

/** The case is kept, for `reason`; the model still runs as before where onnxruntime can run it. */
function keeps(c: Case, reason: RegExp): void {
  const r = cleanupModel(caseModel(c));
  assert.equal(r.report.folded, 0);
  const kept = r.report.nodes.find((n) => n.name === 'folded');
  assert.equal(kept?.action, 'kept');
  assert.match(kept!.reason, reason);
  assert.equal(r.report.notFolded[c.op], 1);
}

const f32 = (name: string, dims: number[], values = rand(dims.reduce((a, b) => a * b, 1))) => tensor(name, 'float32', dims, values);
const i64 = (name: string, dims: number[], values: number[]) => tensor(name, 'int64', dims, values);
const i32 = (name: string, dims: number[], values: number[]) => tensor(name, 'int32', dims, values);

test('reshape family: Reshape (0 and -1), Flatten, Squeeze and Unsqueeze by input (opset 13) and by attribute (opset 11)', async () => {
  await folds({ op: 'Reshape', inputs: [f32('x', [2, 3, 4]), i64('s', [2], [0, -1])], out: 'float32' });
  await folds({ op: 'Reshape', inputs: [i64('x', [6], [1, 2, 3, 4, 5, 6]), i64('s', [3], [3, 1, 2])], out: 'int64' });
  await folds({ op: 'Flatten', inputs: [f32('x', [2, 3, 4])], attrs: { axis: -1 }, out: 'float32' });
  await folds({ op: 'Squeeze', inputs: [f32('x', [2, 1, 3, 1]), i64('a', [1], [-1])], out: 'float32' });
  await folds({ op: 'Squeeze', inputs: [f32('x', [1, 3, 1])], out: 'float32' });
  await folds({ op: 'Squeeze', inputs: [f32('x', [2, 1, 3])], attrs: { axes: [1] }, out: 'float32', opset: 11 });
  await folds({ op: 'Unsqueeze', inputs: [i64('x', [2], [7, 8]), i64('a', [2], [0, -1])], out: 'int64' });
  await folds({ op: 'Unsqueeze', inputs: [i64('x', [], [5])], attrs: { axes: [0] }, out: 'int64', opset: 11, asConstantNodes: true });
  keeps({ op: 'Reshape', inputs: [f32('x', [2, 3]), i64('s', [1], [4])], out: 'float32' }, /do not hold the 6 elements/);
  keeps({ op: 'Squeeze', inputs: [f32('x', [2, 3]), i64('a', [1], [0])], out: 'float32' }, /do not hold/);
});

test('movement family: Transpose, Concat, Gather, Expand', async () => {
  await folds({ op: 'Transpose', inputs: [f32('x', [2, 3, 4])], attrs: { perm: [2, 0, 1] }, out: 'float32' });
  await folds({ op: 'Transpose', inputs: [i64('x', [2, 3], [1, 2, 3, 4, 5, 6])], out: 'int64' });
  await folds({
    op: 'Concat',
    inputs: [f32('a', [2, 1, 2]), f32('b', [2, 3, 2]), f32('c', [2, 0, 2], [])],
    attrs: { axis: 1 },
    out: 'float32',
  });
  await folds({
    op: 'Concat',
    inputs: [i64('a', [1], [1]), i64('b', [2], [-1, 64])],
    attrs: { axis: -1 },
    out: 'int64',
    asConstantNodes: true,
  });
  await folds({ op: 'Gather', inputs: [i64('x', [4], [2, 3, 5, 7]), i64('i', [], [-1])], out: 'int64' });
  await folds({ op: 'Gather', inputs: [f32('x', [2, 3, 2]), i32('i', [2, 2], [0, 2, 1, -3])], attrs: { axis: 1 }, out: 'float32' });
  await folds({ op: 'Expand', inputs: [f32('x', [3, 1]), i64('s', [3], [2, 1, 4])], out: 'float32' });
  await folds({ op: 'Expand', inputs: [i64('x', [1], [9]), i64('s', [0], [])], out: 'int64' });
  keeps({ op: 'Gather', inputs: [i64('x', [3], [1, 2, 3]), i64('i', [1], [3])], out: 'int64' }, /outside \[-3, 2\]/);
  keeps({ op: 'Transpose', inputs: [f32('x', [2, 3])], attrs: { perm: [0, 0] }, out: 'float32' }, /not a permutation/);
});

test('Shape of a graph input declared with fixed dims folds (start/end too); of symbolic dims it is kept', async () => {
  const x = makeValueInfo('x', 'float32', [2, 3, 5]);
  const feeds = { x: { data: new Float32Array(30), dims: [2, 3, 5] } };
  await folds({ op: 'Shape', inputs: [], graphInputs: [x], feeds, out: 'int64' });
  await folds({ op: 'Shape', inputs: [], graphInputs: [x], feeds, attrs: { start: 1, end: -1 }, out: 'int64', opset: 15 });
  await folds({ op: 'Shape', inputs: [f32('c', [4, 1])], out: 'int64' });
  keeps({ op: 'Shape', inputs: [], graphInputs: [makeValueInfo('x', 'float32', ['batch', 3])], out: 'int64' }, /shape of 'x' is not fixed/);
});

const T = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, uint64: 13, bfloat16: 16 } as const;

test('Cast: rounding into float16/bfloat16/float32, truncation into ints, wrapping between ints, bool both ways', async () => {
  const tricky = [0, -0, 1.5, -2.7, 2.5, 65504, 65520, 1e-8, 6e-8, -3.4e38, 0.1, 1 / 3];
  await folds({ op: 'Cast', inputs: [tensor('x', 'float32', [12], tricky)], attrs: { to: T.float16 }, out: 'float16' });
  // bfloat16 -> float32 is exact, so the float32 output shows the bfloat16 rounding.
  await folds({
    op: 'Cast',
    inputs: [tensor('x', 'float32', [12], tricky)],
    attrs: { to: T.bfloat16 },
    then: { op: 'Cast', attrs: { to: T.float32 } },
    out: 'float32',
  });
  await folds({
    op: 'Cast',
    inputs: [tensor('x', 'float64', [4], [0.1, 1 / 3, 1e300, -1e-300])],
    attrs: { to: T.float32 },
    out: 'float32',
  });
  await folds({
    op: 'Cast',
    inputs: [tensor('x', 'float32', [5], [-2.7, -0.5, 0, 2.99, 2147483520])],
    attrs: { to: T.int32 },
    out: 'int32',
  });
  await folds({ op: 'Cast', inputs: [tensor('x', 'float32', [3], [-0.9, 254.9, 7])], attrs: { to: T.uint8 }, out: 'uint8' });
  await folds({ op: 'Cast', inputs: [tensor('x', 'float32', [3], [-1e18, 3.7, -3.7])], attrs: { to: T.int64 }, out: 'int64' });
  await folds({ op: 'Cast', inputs: [i32('x', [4], [300, -129, 127, -1])], attrs: { to: T.int8 }, out: 'int8' });
  await folds({ op: 'Cast', inputs: [i64('x', [3], [2 ** 40 + 5, -1, 4])], attrs: { to: T.int32 }, out: 'int32' });
  await folds({
    op: 'Cast',
    inputs: [tensor('x', 'int64', [3], BigInt64Array.from([-1n, 3n, 2n ** 53n]))],
    attrs: { to: T.float32 },
    out: 'float32',
    asConstantNodes: true,
  });
  await folds({ op: 'Cast', inputs: [i32('x', [2], [-1, 5])], attrs: { to: T.uint64 }, out: 'uint64' });
  await folds({ op: 'Cast', inputs: [tensor('x', 'float32', [5], [0, -0, NaN, 2, -1e-40])], attrs: { to: T.bool }, out: 'bool' });
  await folds({ op: 'Cast', inputs: [tensor('x', 'bool', [3], [1, 0, 1])], attrs: { to: T.float32 }, out: 'float32' });
  await folds({ op: 'Cast', inputs: [tensor('x', 'float16', [3], [0.1, -2, 65504])], attrs: { to: T.float64 }, out: 'float64' });
  keeps({ op: 'Cast', inputs: [tensor('x', 'float32', [2], [1, NaN])], attrs: { to: T.int32 }, out: 'int32' }, /NaN has no int32 value/);
  keeps({ op: 'Cast', inputs: [tensor('x', 'float32', [1], [3e9])], attrs: { to: T.int32 }, out: 'int32' }, /no int32 value/);
  keeps(
    { op: 'Cast', inputs: [tensor('x', 'int64', [1], BigInt64Array.from([2n ** 53n + 2n]))], attrs: { to: T.float32 }, out: 'float32' },
    /past 2\^53/,
  );
});

test('arithmetic with broadcasting: float32 bit for bit (division by zero, sqrt of negatives included), float64, int32, int64', async () => {
  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    await folds({ op, inputs: [f32('a', [2, 1, 3]), f32('b', [4, 1])], out: 'float32' });
    await folds({ op, inputs: [tensor('a', 'float64', [3], rand(3)), tensor('b', 'float64', [1], rand(1))], out: 'float64' });
    await folds({ op, inputs: [i32('a', [4], [-7, 7, 100000, -5]), i32('b', [4], [2, -2, 3, 5])], out: 'int32' });
    await folds({ op, inputs: [i64('a', [2, 2], [-7, 7, 2 ** 40, 3]), i64('b', [2], [2, -3])], out: 'int64', asConstantNodes: true });
  }
  await folds({
    op: 'Div',
    inputs: [tensor('a', 'float32', [4], [1, -1, 0, 3]), tensor('b', 'float32', [4], [0, 0, 0, -0])],
    out: 'float32',
  });
  await folds({ op: 'Neg', inputs: [f32('a', [5])], out: 'float32' });
  await folds({ op: 'Neg', inputs: [i64('a', [2], [5, -9])], out: 'int64' });
  await folds({ op: 'Neg', inputs: [i32('a', [2], [5, -9])], out: 'int32' });
  await folds({ op: 'Sqrt', inputs: [tensor('a', 'float32', [7], [2, 0.5, 1e-30, -0, 3.4e38, 0.1, -1])], out: 'float32' });
  await folds({ op: 'Sqrt', inputs: [tensor('a', 'float64', [2], [2, 1e-300])], out: 'float64' });
  keeps({ op: 'Add', inputs: [i32('a', [1], [2 ** 31 - 1]), i32('b', [1], [1])], out: 'int32' }, /int32 overflow/);
  keeps({ op: 'Div', inputs: [i32('a', [1], [1]), i32('b', [1], [0])], out: 'int32' }, /division by zero/);
  keeps({ op: 'Mul', inputs: [i64('a', [1], [2 ** 40]), i64('b', [1], [2 ** 40])], out: 'int64' }, /int64 overflow/);
  keeps({ op: 'Neg', inputs: [i32('a', [1], [-(2 ** 31)])], out: 'int32' }, /int32 overflow/);
  keeps(
    { op: 'Add', inputs: [tensor('a', 'float16', [1], [1]), tensor('b', 'float16', [1], [2])], out: 'float16' },
    /float16 arithmetic is not folded/,
  );
  keeps({ op: 'Sqrt', inputs: [i32('a', [1], [4])], out: 'int32' }, /Sqrt takes floats/);
  keeps({ op: 'Add', inputs: [f32('a', [2]), f32('b', [3])], out: 'float32' }, /do not broadcast/);
});

test('Slice: by input (negative and INT64_MAX indices, negative steps, axes) and by attribute (opset 9), against onnxruntime', async () => {
  const big = (v: bigint[]) => tensor('e', 'int64', [v.length], BigInt64Array.from(v));
  await folds({ op: 'Slice', inputs: [f32('x', [4, 5]), i64('s', [2], [1, -4]), i64('e', [2], [3, 100])], out: 'float32' });
  await folds({
    op: 'Slice',
    inputs: [i64('x', [4], [3, 1, 64, 64]), i64('s', [1], [2]), big([2n ** 63n - 1n])],
    out: 'int64',
    asConstantNodes: true,
  });
  await folds({
    op: 'Slice',
    inputs: [f32('x', [3, 4, 2]), i64('s', [1], [-1]), big([-(2n ** 63n)]), i64('a', [1], [1]), i64('t', [1], [-1])],
    out: 'float32',
  });
  await folds({
    op: 'Slice',
    inputs: [f32('x', [6, 5]), i64('s', [2], [5, 0]), i64('e', [2], [0, 5]), i64('a', [2], [-2, 1]), i64('t', [2], [-2, 2])],
    out: 'float32',
  });
  await folds({ op: 'Slice', inputs: [i32('x', [5], [1, 2, 3, 4, 5]), i32('s', [1], [3]), i32('e', [1], [1])], out: 'int32' });
  await folds({ op: 'Slice', inputs: [f32('x', [2, 6])], attrs: { starts: [1], ends: [-1], axes: [1] }, out: 'float32', opset: 9 });
  await folds({ op: 'Slice', inputs: [i64('x', [4], [1, 3, 48, 320])], attrs: { starts: [0], ends: [1] }, out: 'int64', opset: 9 });
  keeps(
    {
      op: 'Slice',
      inputs: [f32('x', [4]), i64('s', [1], [0]), i64('e', [1], [2]), i64('a', [1], [0]), i64('t', [1], [0])],
      out: 'float32',
    },
    /step is 0/,
  );
  // A negative step's start is clamped to 0 (the spec, onnxruntime): [x[0]], not 0 elements (core's rule said so once).
  await folds({
    op: 'Slice',
    inputs: [f32('x', [4]), i64('s', [1], [-10]), i64('e', [1], [-10]), i64('a', [1], [0]), i64('t', [1], [-1])],
    out: 'float32',
  });
});

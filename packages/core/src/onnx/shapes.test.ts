import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { onnx } from './proto.js';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from './builder.js';
import { makeTensor, tensorNumel } from './tensor.js';
import { broadcastShapes, inferShapes, matmulShape } from './shapes.js';

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

function weights(name: string, dims: number[], seed = 1): onnx.TensorProto {
  const n = tensorNumel(dims);
  return makeTensor(
    name,
    'float32',
    dims,
    Array.from({ length: n }, (_, i) => Math.sin((i + 1) * 12.9898 * seed) * 0.5),
  );
}

const INT64_VALUES = new Set(['shape', 'n0', 'n0u', 'tgt']);

/** A CNN-ish graph touching most shape rules, the way exporters write it (Shape->Gather->Concat->Reshape). */
function zoo(): onnx.ModelProto {
  const N = (name: string, op: string, ins: string[], outs: string[], attrs: Record<string, unknown> = {}) =>
    makeNode(op, ins, outs, attrs as never, { name });
  const nodes = [
    N('c1', 'Conv', ['x', 'w1', 'b1'], ['c1'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
    N('bn', 'BatchNormalization', ['c1', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], ['bn']),
    N('r1', 'Relu', ['bn'], ['r1']),
    N('p1', 'MaxPool', ['r1'], ['p1'], { kernel_shape: [2, 2], strides: [2, 2] }),
    N('c2', 'Conv', ['p1', 'w2'], ['c2'], { group: 2, strides: [2, 2] }),
    N('p2', 'AveragePool', ['c2'], ['p2'], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }),
    N('ct', 'ConvTranspose', ['p2', 'wt'], ['ct'], { strides: [2, 2] }),
    N('rs', 'Resize', ['ct', '', 'scales'], ['rs'], { mode: 'nearest' }),
    N('pd', 'Pad', ['rs', 'pads'], ['pd']),
    N('sl', 'Slice', ['pd', 'starts', 'ends', 'axes2'], ['sl']),
    N('rm', 'ReduceMean', ['sl'], ['rm'], { axes: [3], keepdims: 0 }),
    N('tr', 'Transpose', ['rm'], ['tr'], { perm: [0, 2, 1] }),
    N('sp', 'Split', ['tr', 'split'], ['sp0', 'sp1'], { axis: 2 }),
    N('sq', 'Squeeze', ['sp0', 'axes2'], ['sq']),
    N('shape', 'Shape', ['p2'], ['shape']),
    N('n0', 'Gather', ['shape', 'zero'], ['n0'], { axis: 0 }),
    N('n0u', 'Unsqueeze', ['n0', 'axes0'], ['n0u']),
    N('tgt', 'Concat', ['n0u', 'minus1'], ['tgt'], { axis: 0 }),
    N('fl', 'Reshape', ['p2', 'tgt'], ['fl']),
    N('g1', 'Gemm', ['fl', 'wg', 'bg'], ['g1'], { transB: 1 }),
    N('add', 'Add', ['g1', 'sq'], ['add']),
    N('mm', 'MatMul', ['sp1', 'wm'], ['mm']),
    N('fl2', 'Flatten', ['mm'], ['fl2'], { axis: 1 }),
    N('cat', 'Concat', ['add', 'fl2'], ['cat'], { axis: 1 }),
    N('gap', 'GlobalAveragePool', ['c2'], ['gap']),
    N('sm', 'Softmax', ['cat'], ['sm'], { axis: -1 }),
  ];
  const outputs = nodes.flatMap((n) => n.output).map((o) => makeValueInfo(o, INT64_VALUES.has(o) ? 'int64' : 'float32'));
  return makeModel(
    makeGraph({
      nodes,
      inputs: [makeValueInfo('x', 'float32', ['N', 1, 28, 28])],
      outputs,
      initializers: [
        weights('w1', [8, 1, 3, 3]),
        weights('b1', [8], 2),
        makeTensor('bn_s', 'float32', [8], new Array(8).fill(1.5)),
        weights('bn_b', [8], 3),
        weights('bn_m', [8], 4),
        makeTensor('bn_v', 'float32', [8], new Array(8).fill(2)),
        weights('w2', [8, 4, 3, 3], 5),
        weights('wt', [8, 4, 2, 2], 6),
        makeTensor('scales', 'float32', [4], [1, 1, 2, 2]),
        makeTensor('pads', 'int64', [8], [0, 0, 1, 1, 0, 0, 1, 1]),
        makeTensor('starts', 'int64', [1], [2]),
        makeTensor('ends', 'int64', [1], [-2]),
        makeTensor('axes2', 'int64', [1], [2]),
        makeTensor('split', 'int64', [2], [1, 3]),
        makeTensor('zero', 'int64', [], [0]),
        makeTensor('axes0', 'int64', [1], [0]),
        makeTensor('minus1', 'int64', [1], [-1]),
        weights('wg', [10, 72], 7),
        weights('bg', [10], 8),
        weights('wm', [3, 5], 9),
      ],
    }),
  );
}

const EXPECTED: Record<string, (n: number) => number[]> = {
  c1: (n) => [n, 8, 28, 28],
  p1: (n) => [n, 8, 14, 14],
  c2: (n) => [n, 8, 6, 6],
  p2: (n) => [n, 8, 3, 3],
  ct: (n) => [n, 4, 6, 6],
  rs: (n) => [n, 4, 12, 12],
  pd: (n) => [n, 4, 14, 14],
  sl: (n) => [n, 4, 10, 14],
  rm: (n) => [n, 4, 10],
  tr: (n) => [n, 10, 4],
  sp0: (n) => [n, 10, 1],
  sp1: (n) => [n, 10, 3],
  sq: (n) => [n, 10],
  shape: () => [4],
  n0: () => [],
  tgt: () => [2],
  fl: (n) => [n, 72],
  g1: (n) => [n, 10],
  mm: (n) => [n, 10, 5],
  fl2: (n) => [n, 50],
  cat: (n) => [n, 60],
  gap: (n) => [n, 8, 1, 1],
  sm: (n) => [n, 60],
};

test('inferShapes matches the shapes onnxruntime produces for every value of a mixed graph', async () => {
  const model = zoo();
  const batch = 3;
  const shapes = inferShapes(model, { x: [batch, 1, 28, 28] });
  for (const [name, f] of Object.entries(EXPECTED)) assert.deepEqual(shapes.get(name), f(batch), name);
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
  try {
    const x = new ort.Tensor(
      'float32',
      Float32Array.from({ length: batch * 784 }, (_, i) => Math.cos(i)),
      [batch, 1, 28, 28],
    );
    const out = await session.run({ x });
    for (const node of model.graph!.node!) {
      for (const o of node.output!) {
        assert.deepEqual(shapes.get(o), [...out[o]!.dims], `inferred shape of '${o}' (${node.opType}) vs onnxruntime`);
      }
    }
  } finally {
    await session.release();
  }
});

test('symbolic dims default to 1 (per sample); initializers and inputs are included', () => {
  const shapes = inferShapes(zoo());
  assert.deepEqual(shapes.get('x'), [1, 1, 28, 28]);
  assert.deepEqual(shapes.get('fl'), [1, 72]);
  assert.deepEqual(shapes.get('w2'), [8, 4, 3, 3]);
});

test('unknown ops leave their outputs unknown without error; declared value_info fills in, resolving dim_params', () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Mystery', ['x'], ['m'], {}, { domain: 'custom' }),
        makeNode('Relu', ['m'], ['r']),
        makeNode('Mystery', ['r'], ['m2'], {}, { domain: 'custom' }),
        makeNode('Relu', ['m2'], ['r2']),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 4])],
      outputs: [makeValueInfo('r2', 'float32')],
      valueInfo: [makeValueInfo('m2', 'float32', ['batch', 7])],
    }),
  );
  const shapes = inferShapes(model, { x: [5, 4] });
  assert.equal(shapes.get('m'), undefined);
  assert.equal(shapes.get('r'), undefined);
  assert.deepEqual(shapes.get('m2'), [5, 7]);
  assert.deepEqual(shapes.get('r2'), [5, 7]);
  assert.throws(
    () => inferShapes(model, { y: [1] }),
    (e) => codeOf(e) === 'INVALID_ARGUMENT' && /'y'.*inputs: x/.test(String(e)),
  );
  assert.throws(
    () => inferShapes(model, { x: [5, 3] }),
    (e) => codeOf(e) === 'INVALID_ARGUMENT' && /declared shape \[batch, 4\]/.test(String(e)),
  );
});

test('broadcast and matmul shape helpers follow numpy', () => {
  assert.deepEqual(broadcastShapes([2, 1, 4], [3, 1], []), [2, 3, 4]);
  assert.equal(broadcastShapes([2, 3], [4, 3]), undefined);
  assert.deepEqual(matmulShape([2, 1, 3, 4], [5, 4, 6]), [2, 5, 3, 6]);
  assert.deepEqual(matmulShape([4], [4, 6]), [6]);
  assert.deepEqual(matmulShape([3, 4], [4]), [3]);
  assert.equal(matmulShape([3, 4], [5, 6]), undefined);
});

test('opset-11 style attributes (Unsqueeze/Squeeze axes, Slice inputs) and Constant nodes are read', () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Constant', [], ['shp'], { value: attr.tensor(makeTensor('', 'int64', [2], [0, -1])) }),
        makeNode('Unsqueeze', ['x'], ['u'], { axes: [0, 3] }),
        makeNode('Squeeze', ['u'], ['s'], { axes: [0] }),
        makeNode('Reshape', ['s', 'shp'], ['r']),
        makeNode('ReduceSum', ['r'], ['rs'], { axes: [1], keepdims: 1 }),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, 6])],
      outputs: [makeValueInfo('rs', 'float32')],
    }),
    { opset: 11 },
  );
  const shapes = inferShapes(model);
  assert.deepEqual(shapes.get('u'), [1, 2, 6, 1]);
  assert.deepEqual(shapes.get('s'), [2, 6, 1]);
  assert.deepEqual(shapes.get('r'), [2, 6]);
  assert.deepEqual(shapes.get('rs'), [2, 1]);
});

test("Slice with a negative step clamps its start to [0, dim - 1] and its end to [-1, dim - 1] (the spec's rule)", () => {
  const slice = (starts: number[], ends: number[], steps: number[]) => {
    const model = makeModel(
      makeGraph({
        nodes: [makeNode('Slice', ['x', 's', 'e', 'a', 't'], ['y'])],
        inputs: [makeValueInfo('x', 'float32', [4])],
        outputs: [makeValueInfo('y', 'float32')],
        initializers: [
          makeTensor('s', 'int64', [1], starts),
          makeTensor('e', 'int64', [1], ends),
          makeTensor('a', 'int64', [1], [0]),
          makeTensor('t', 'int64', [1], steps),
        ],
      }),
      { opset: 13 },
    );
    return inferShapes(model).get('y');
  };
  // x[-10::-1] from the start clamped to 0 down to the end clamped to -1: one element.
  assert.deepEqual(slice([-10], [-10], [-1]), [1]);
  assert.deepEqual(slice([10], [-10], [-1]), [4]);
  assert.deepEqual(slice([3], [0], [-2]), [2]);
  assert.deepEqual(slice([0], [10], [1]), [4]);
});

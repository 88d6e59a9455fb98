import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { onnx } from './proto.js';
import { attr, makeAttribute, makeGraph, makeModel, makeNode, makeValueInfo } from './builder.js';
import { makeTensor } from './tensor.js';

const AT = onnx.AttributeProto.AttributeType;

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

test('makeNode types attributes like onnx.helper and sorts them by name', () => {
  const w = makeTensor('w', 'float32', [1], [2]);
  const body = makeGraph({ nodes: [], inputs: [], outputs: [] });
  const n = makeNode(
    'Foo',
    ['a'],
    ['b'],
    {
      z_int: 3,
      y_ints: [1, -2],
      x_float: attr.float(0.5),
      w_floats: attr.floats([1, 2.5]),
      v_str: 'NOTSET',
      u_strs: ['a', 'b'],
      t_tensor: w,
      s_graph: body,
      r_skip: undefined,
      q_whole_float: attr.float(2),
      p_empty: attr.ints([]),
    },
    { name: 'foo', domain: 'com.example' },
  );
  assert.equal(n.name, 'foo');
  assert.equal(n.domain, 'com.example');
  assert.deepEqual(
    n.attribute.map((a) => a.name),
    ['p_empty', 'q_whole_float', 's_graph', 't_tensor', 'u_strs', 'v_str', 'w_floats', 'x_float', 'y_ints', 'z_int'],
  );
  const by = Object.fromEntries(n.attribute.map((a) => [a.name, a]));
  assert.equal(by['z_int']!.type, AT.INT);
  assert.equal(by['z_int']!.i, 3);
  assert.equal(by['y_ints']!.type, AT.INTS);
  assert.deepEqual(by['y_ints']!.ints, [1, -2]);
  assert.equal(by['x_float']!.type, AT.FLOAT);
  assert.equal(by['q_whole_float']!.type, AT.FLOAT);
  assert.equal(by['w_floats']!.type, AT.FLOATS);
  assert.equal(by['v_str']!.type, AT.STRING);
  assert.equal(new TextDecoder().decode(by['v_str']!.s), 'NOTSET');
  assert.equal(by['u_strs']!.type, AT.STRINGS);
  assert.equal(by['t_tensor']!.type, AT.TENSOR);
  assert.equal(by['s_graph']!.type, AT.GRAPH);
  assert.equal(by['p_empty']!.type, AT.INTS);
  // A plain object tensor is recognized too.
  assert.equal(makeAttribute('v', { dataType: 1, dims: [1], floatData: [1] }).type, AT.TENSOR);
});

test('makeNode refuses values whose attribute type would be a guess', () => {
  assert.throws(
    () => makeNode('LeakyRelu', ['x'], ['y'], { alpha: 0.1 }),
    (e) => codeOf(e) === 'INVALID_ARGUMENT' && /alpha.*attr\.float/.test(String(e)),
  );
  assert.throws(
    () => makeNode('Foo', ['x'], ['y'], { axes: [1, 0.5] }),
    (e) => codeOf(e) === 'INVALID_ARGUMENT',
  );
  assert.throws(
    () => makeNode('Foo', ['x'], ['y'], { axes: [] }),
    (e) => codeOf(e) === 'INVALID_ARGUMENT' && /attr\.ints/.test(String(e)),
  );
});

test('makeValueInfo writes dim_value, dim_param and unknown dims', () => {
  const vi = makeValueInfo('x', 'float16', [2, 'batch', null]);
  const tt = vi.type!.tensorType!;
  assert.equal(tt.elemType, onnx.TensorProto.DataType.FLOAT16);
  const dims = tt.shape!.dim!;
  assert.equal(dims[0]!.dimValue, 2);
  assert.equal(dims[1]!.dimParam, 'batch');
  assert.deepEqual(Object.keys(dims[2]!), []);
  assert.equal(makeValueInfo('r', 'int64').type!.tensorType!.shape, undefined);
  assert.throws(
    () => makeValueInfo('x', 'float32', [-1]),
    (e) => codeOf(e) === 'INVALID_ARGUMENT',
  );
});

test('makeModel sets opsets (default 17, used domains imported), IR version, producer and metadata', () => {
  const g = makeGraph({
    nodes: [makeNode('MatMulNBits', ['a', 'b'], ['c'], { K: 4, N: 2 }, { domain: 'com.microsoft' })],
    inputs: [],
    outputs: [],
  });
  const m = makeModel(g, { metadata: { k: 'v' }, producerVersion: '1.0' });
  assert.equal(m.irVersion, 8);
  assert.equal(m.producerName, 'shrink');
  assert.equal(m.producerVersion, '1.0');
  assert.deepEqual(
    m.opsetImport.map((o) => [o.domain, o.version]),
    [
      ['', 17],
      ['com.microsoft', 1],
    ],
  );
  assert.deepEqual(
    m.metadataProps.map((p) => [p.key, p.value]),
    [['k', 'v']],
  );
  const m2 = makeModel(g, { opset: { '': 13, 'com.microsoft': 1 }, irVersion: 7 });
  assert.deepEqual(
    m2.opsetImport.map((o) => [o.domain, o.version]),
    [
      ['', 13],
      ['com.microsoft', 1],
    ],
  );
  assert.equal(m2.irVersion, 7);
  assert.equal(makeModel(g, { opset: 11 }).opsetImport[0]!.version, 11);
});

test('a built Gemm+Relu+MatMul model runs in onnxruntime and matches a hand computation (1e-5)', async () => {
  const x = [0.5, -1, 2, 1.5, 0.25, -0.75]; // [2,3]
  const w1 = [0.1, -0.2, 0.3, 0.4, 0.5, -0.6, -0.7, 0.8, 0.9, 1.0, -1.1, 1.2]; // [4,3], used transposed
  const b1 = [0.01, -0.02, 0.03, -2];
  const w2 = [1, -1, 0.5, 2, -0.25, 0.75, 3, -3]; // [4,2]
  const model = makeModel(
    makeGraph({
      name: 'mlp',
      nodes: [
        makeNode('Gemm', ['x', 'w1', 'b1'], ['h'], { transB: 1, alpha: attr.float(1) }, { name: 'fc1' }),
        makeNode('Relu', ['h'], ['hr'], {}, { name: 'relu' }),
        makeNode('MatMul', ['hr', 'w2'], ['y'], {}, { name: 'fc2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', 3])],
      outputs: [makeValueInfo('y', 'float32', ['N', 2])],
      initializers: [
        makeTensor('w1', 'float32', [4, 3], w1),
        makeTensor('b1', 'float32', [4], b1),
        makeTensor('w2', 'float32', [4, 2], w2),
      ],
    }),
  );
  const bytes = onnx.ModelProto.encode(model).finish();
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from(x), [2, 3]) });
    const y = out['y']!;
    assert.deepEqual(y.dims, [2, 2]);
    const want: number[] = [];
    let negatives = 0;
    for (let r = 0; r < 2; r++) {
      const pre = [0, 1, 2, 3].map((j) => b1[j]! + [0, 1, 2].reduce((s, k) => s + x[r * 3 + k]! * w1[j * 3 + k]!, 0));
      negatives += pre.filter((v) => v < 0).length;
      const hidden = pre.map((v) => Math.max(0, v));
      for (let c = 0; c < 2; c++) want.push(hidden.reduce((s, hv, j) => s + hv * w2[j * 2 + c]!, 0));
    }
    assert.ok(negatives > 0, 'some pre-activations are negative, so the Relu is exercised');
    const got = y.data as Float32Array;
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5, `y[${i}] = ${got[i]} vs ${want[i]}`);
  } finally {
    await session.release();
  }
});

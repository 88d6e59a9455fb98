import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onnx } from '../onnx/proto.js';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/builder.js';
import { makeTensor, tensorNumel, type DType } from '../onnx/tensor.js';
import { countParams } from './params.js';

function filled(name: string, dtype: DType, dims: number[], f: (i: number) => number): onnx.TensorProto {
  const n = tensorNumel(dims);
  return makeTensor(
    name,
    dtype,
    dims,
    Array.from({ length: n }, (_, i) => f(i)),
  );
}

function model(inits: onnx.TensorProto[], nodes: onnx.NodeProto[] = []): onnx.ModelProto {
  return makeModel(makeGraph({ nodes, inputs: [makeValueInfo('x', 'float32', [1])], outputs: [], initializers: inits }));
}

test('MLP 784-512-256-10 float32: params = weights + biases, nonZero skips zeros, bytes = 4 per element', () => {
  const sizes = [784, 512, 256, 10];
  const inits: onnx.TensorProto[] = [];
  for (let l = 0; l < 3; l++) {
    // Every 4th weight is zero (as after pruning); biases are all zero.
    inits.push(filled(`w${l}`, 'float32', [sizes[l]!, sizes[l + 1]!], (i) => (i % 4 === 0 ? 0 : 0.5)));
    inits.push(filled(`b${l}`, 'float32', [sizes[l + 1]!], () => 0));
  }
  const weights = 784 * 512 + 512 * 256 + 256 * 10;
  const biases = 512 + 256 + 10;
  const r = countParams(model(inits));
  assert.equal(r.params, weights + biases);
  assert.equal(r.nonZero, weights - weights / 4);
  assert.equal(r.quantized, 0);
  assert.deepEqual(r.byDtype, { float32: weights + biases });
  assert.deepEqual(r.bytesByDtype, { float32: 4 * (weights + biases) });
});

test('float16, bfloat16 and float64 count as params (±0 bits are zeros); int64 shapes only in byDtype', () => {
  const r = countParams(
    model([
      makeTensor('h', 'float16', [4], new Uint16Array([0x0000, 0x8000, 0x3c00, 0x0001])),
      makeTensor('b', 'bfloat16', [2], new Uint16Array([0x8000, 0x3f80])),
      makeTensor('d', 'float64', [3], [0, -0, 1e-300]),
      makeTensor('shape', 'int64', [2], [1, -1]),
    ]),
  );
  assert.equal(r.params, 9);
  assert.equal(r.nonZero, 2 + 1 + 1);
  assert.deepEqual(r.byDtype, { float16: 4, bfloat16: 2, float64: 3, int64: 2 });
  assert.deepEqual(r.bytesByDtype, { float16: 8, bfloat16: 4, float64: 24, int64: 16 });
});

test('int8 weights and MatMulNBits 4-bit codes are counted as quantized elements, not bytes; scales and zero points are not parameters', () => {
  const K = 64;
  const N = 32;
  const block = 32;
  const blocks = K / block;
  const nodes = [
    makeNode('DequantizeLinear', ['wq', 'ws', 'wz'], ['w']),
    makeNode('MatMulNBits', ['x', 'nb', 'nbs', 'nbz'], ['y'], { K, N, bits: 4, block_size: block }, { domain: 'com.microsoft' }),
  ];
  const r = countParams(
    model(
      [
        filled('wq', 'int8', [10, 20], (i) => (i % 7) - 3),
        makeTensor('ws', 'float32', [], [0.02]),
        makeTensor('wz', 'int8', [], [0]),
        filled('nb', 'uint8', [N, blocks, block / 2], (i) => i % 256),
        filled('nbs', 'float32', [N * blocks], () => 0.1),
        filled('nbz', 'uint8', [N * Math.ceil(blocks / 2)], () => 0x88),
      ],
      nodes,
    ),
  );
  assert.equal(r.params, 0, 'scales are not parameters');
  assert.equal(r.quantized, 200 + K * N, 'codes are, zero points are not');
  assert.equal(r.total, 200 + K * N);
  assert.equal(r.quantParams, 1 + 1 + N * blocks + N * blocks);
  assert.deepEqual(r.paramsByDtype, { int8: 200, int4: K * N });
  assert.deepEqual(r.quantizedOps, { 'QDQ (int8)': 1, 'MatMulNBits (4-bit, block 32)': 1 });
  // Stored tensors, scales and zero points included.
  assert.deepEqual(r.byDtype, { int8: 201, float32: 1 + N * blocks, int4: K * N + N * blocks });
  assert.deepEqual(r.bytesByDtype, { int8: 201, float32: 4 * (1 + N * blocks), int4: (K * N) / 2 + N * Math.ceil(blocks / 2) });
});

test('Constant values, subgraph initializers, typed-field tensors and INT4 tensors are counted', () => {
  const body = makeGraph({
    nodes: [makeNode('Add', ['x', 'inner'], ['o'])],
    inputs: [],
    outputs: [makeValueInfo('o', 'float32')],
    initializers: [makeTensor('inner', 'float32', [3], [1, 0, 2])],
  });
  const typed = onnx.TensorProto.create({ name: 't', dataType: onnx.TensorProto.DataType.FLOAT, dims: [2], floatData: [0, 5] });
  const int4 = onnx.TensorProto.create({ name: 'q4', dataType: 22, dims: [5], rawData: new Uint8Array(3) });
  const r = countParams(
    model(
      [typed, int4],
      [
        makeNode('Constant', [], ['c'], { value: attr.tensor(makeTensor('', 'float32', [2, 2], [1, 1, 0, 1])) }),
        makeNode('If', ['cond'], ['y'], { then_branch: body, else_branch: body }),
      ],
    ),
  );
  // `inner` sits in both branches: each branch stores its own copy.
  assert.equal(r.params, 2 + 4 + 3 + 3);
  assert.equal(r.nonZero, 1 + 3 + 2 + 2);
  assert.equal(r.quantized, 5);
  assert.deepEqual(r.byDtype, { float32: 12, int4: 5 });
  assert.deepEqual(r.bytesByDtype, { float32: 48, int4: 3 });
  assert.deepEqual(r.subgraphs, { graphs: 2, tensors: 2, params: 6 });
});

test('dynamic quantization: the weight scale multiplied with the run-time scale (through a Reshape) is not a parameter', () => {
  // onnxruntime's and Shrink's dynamic pattern: DynamicQuantizeLinear -> ConvInteger -> Cast -> Mul(Mul(x_scale, w_scale)) -> Add(bias).
  const nodes = [
    makeNode('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
    makeNode('ConvInteger', ['xq', 'wq', 'xz', 'wz'], ['acc']),
    makeNode('Cast', ['acc'], ['accf'], { to: 1 }),
    makeNode('Reshape', ['ws', 'wshape'], ['ws_r']),
    makeNode('Mul', ['xs', 'ws_r'], ['scales']),
    makeNode('Mul', ['accf', 'scales'], ['y0']),
    makeNode('Add', ['y0', 'bias'], ['y1']),
    // A weight multiplied later is a weight, even downstream of a scaled result.
    makeNode('Mul', ['y1', 'gamma'], ['y']),
  ];
  const r = countParams(
    model(
      [
        filled('wq', 'uint8', [4, 1, 3, 3], (i) => (i % 3 === 0 ? 128 : 3)),
        makeTensor('wz', 'uint8', [], [128]),
        makeTensor('ws', 'float32', [1], [0.01]),
        makeTensor('wshape', 'int64', [1], [1]),
        filled('bias', 'float32', [1, 4, 1, 1], () => 0.5),
        filled('gamma', 'float32', [4], () => 2),
      ],
      nodes,
    ),
  );
  assert.equal(r.params, 4 + 4);
  assert.equal(r.quantized, 36);
  assert.equal(r.quantizedNonZero, 24);
  assert.equal(r.quantParams, 2);
  assert.equal(r.total, 44);
  assert.deepEqual(r.paramsByDtype, { uint8: 36, float32: 8 });
  assert.deepEqual(r.quantizedOps, { 'ConvInteger (uint8)': 1 });
});

test('QOperator: QLinearConv int32 bias is a parameter, its six scales and zero points are not; generic QLinear* by position', () => {
  const nodes = [
    makeNode('QLinearConv', ['xq', 'xs', 'xz', 'wq', 'ws', 'wz', 'ys', 'yz', 'bq'], ['yq']),
    makeNode('QLinearAdd', ['yq', 'ys', 'yz', 'cq', 'cs', 'cz', 'zs', 'zz'], ['zq'], {}, { domain: 'com.microsoft' }),
    makeNode('DequantizeLinear', ['bq2', 'bs2'], ['b2']),
  ];
  const r = countParams(
    model(
      [
        filled('wq', 'int8', [8, 2, 3, 3], (i) => (i % 5) - 2),
        filled('ws', 'float32', [8], () => 0.1),
        filled('wz', 'int8', [8], () => 0),
        filled('bq', 'int32', [8], (i) => i * 100),
        makeTensor('xs', 'float32', [], [0.02]),
        makeTensor('xz', 'uint8', [], [128]),
        makeTensor('ys', 'float32', [], [0.05]),
        makeTensor('yz', 'uint8', [], [128]),
        filled('cq', 'uint8', [8, 1, 1], () => 130),
        makeTensor('cs', 'float32', [], [0.05]),
        makeTensor('cz', 'uint8', [], [128]),
        makeTensor('zs', 'float32', [], [0.1]),
        makeTensor('zz', 'uint8', [], [128]),
        // A QDQ int32 bias (static QDQ models): codes without a zero point.
        filled('bq2', 'int32', [3], (i) => i),
        makeTensor('bs2', 'float32', [], [0.001]),
        makeTensor('shape', 'int64', [2], [1, -1]),
      ],
      nodes,
    ),
  );
  assert.equal(r.params, 0);
  assert.equal(r.quantized, 144 + 8 + 8 + 3);
  // 29 of the weight codes are 0; readers without a known zero point (the QLinearConv bias, QLinearAdd) count dense.
  assert.equal(r.quantizedNonZero, 144 - 29 + 8 + 8 + 2);
  assert.equal(r.quantParams, 8 + 8 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1);
  assert.deepEqual(r.paramsByDtype, { int8: 144, int32: 11, uint8: 8 });
  assert.deepEqual(r.quantizedOps, { 'QLinearConv (int8)': 1, 'QLinearAdd (uint8)': 1 });
});

test('quantizedNonZero: codes equal to the zero point their reader applies are zero weights (per tensor, per channel, MatMulNBits)', () => {
  const K = 64;
  const N = 2;
  const block = 32;
  // Column 0: every code is the zero point given (block 0: 3, block 1: 5); column 1: no zero point input for
  // a second MatMulNBits, so its zero is the mid code 8.
  const zpCol = [0x53, 0x53];
  const nibbles = (col: number, i: number, zp: number) => (i % 2 === 0 ? zp : (zp + 1) & 15);
  const packed = (zps: (b: number) => number) =>
    Array.from({ length: N * 2 * (block / 2) }, (_, byte) => {
      const col = Math.floor(byte / block);
      const b = Math.floor((byte % block) / (block / 2));
      const i = (byte % (block / 2)) * 2;
      return nibbles(col, i, zps(b)) | (nibbles(col, i + 1, zps(b)) << 4);
    });
  const nodes = [
    makeNode('DequantizeLinear', ['wq', 'ws', 'wz'], ['w']),
    makeNode('DequantizeLinear', ['cq', 'cs', 'cz'], ['c'], { axis: 0 }),
    makeNode('MatMulInteger', ['a', 'mq', 'az', 'mz'], ['m']),
    makeNode('ConvInteger', ['a', 'vq'], ['v']),
    makeNode('MatMulNBits', ['x', 'nb', 'nbs', 'nbz'], ['y'], { K, N, bits: 4, block_size: block }, { domain: 'com.microsoft' }),
    makeNode('MatMulNBits', ['x', 'nb2', 'nbs'], ['y2'], { K, N, bits: 4, block_size: block }, { domain: 'com.microsoft' }),
    makeNode('Unknown', ['uq'], ['u'], {}, { domain: 'x.y' }),
  ];
  const r = countParams(
    model(
      [
        // per tensor, zero point 128: codes 128 are zeros (half of them)
        filled('wq', 'uint8', [4, 5], (i) => (i % 2 ? 128 : 200)),
        makeTensor('ws', 'float32', [], [0.1]),
        makeTensor('wz', 'uint8', [], [128]),
        // per channel along axis 0 (3 channels, zero points 0, 1, 2): row c has c+1 codes equal to c
        filled('cq', 'int8', [3, 4], (i) => (i % 4 <= Math.floor(i / 4) ? Math.floor(i / 4) : 9)),
        filled('cs', 'float32', [3], () => 0.1),
        makeTensor('cz', 'int8', [3], [0, 1, 2]),
        // per column (last axis) for MatMulInteger: zero points [1, 2]
        filled('mq', 'int8', [3, 2], (i) => (i % 2 === 0 ? 1 : 7)),
        makeTensor('mz', 'int8', [2], [1, 2]),
        // ConvInteger without a weight zero point: 0 is zero
        filled('vq', 'uint8', [2, 1, 2, 2], (i) => (i < 3 ? 0 : 4)),
        filled('nb', 'uint8', [N, 2, block / 2], (i) => packed((b) => (b === 0 ? 3 : 5))[i]!),
        filled('nbs', 'float32', [N * 2], () => 0.1),
        makeTensor('nbz', 'uint8', [N], zpCol),
        filled('nb2', 'uint8', [N, 2, block / 2], (i) => packed(() => 8)[i]!),
        filled('uq', 'int8', [4], () => 0),
      ],
      nodes,
    ),
  );
  // Zero points (wz 1, cz 3, mz 2, nbz N*2 packed) are not parameters.
  const codes = 20 + 12 + 6 + 8 + K * N + K * N + 4;
  assert.equal(r.quantized, codes);
  assert.equal(r.quantParams, 1 + 1 + 3 + 3 + 2 + N * 2 + N * 2);
  const zeros = 10 + (1 + 2 + 3) + 3 + 3 + (K * N) / 2 + (K * N) / 2;
  // The unknown reader's codes stay dense.
  assert.equal(r.quantizedNonZero, codes - zeros);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { onnx } from '../onnx/proto.js';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/builder.js';
import { makeTensor, tensorNumel } from '../onnx/tensor.js';
import { countMacs } from './macs.js';
import { inferShapes } from '../onnx/shapes.js';

function zeros(name: string, dims: number[], dtype: 'float32' | 'int8' | 'uint8' = 'float32'): onnx.TensorProto {
  return makeTensor(name, dtype, dims, new Array(tensorNumel(dims)).fill(0));
}

/** A 784-512-256-10 MLP; `gemm` picks Gemm nodes, otherwise MatMul + Add. */
function mlp(gemm: boolean): onnx.ModelProto {
  const sizes = [784, 512, 256, 10];
  const nodes: onnx.NodeProto[] = [];
  const inits: onnx.TensorProto[] = [];
  let prev = 'x';
  for (let l = 0; l < 3; l++) {
    const [i, o] = [sizes[l]!, sizes[l + 1]!];
    inits.push(zeros(`w${l}`, gemm ? [o, i] : [i, o]), zeros(`b${l}`, [o]));
    const out = l === 2 ? 'y' : `h${l}`;
    if (gemm) nodes.push(makeNode('Gemm', [prev, `w${l}`, `b${l}`], [l === 2 ? out : `a${l}`], { transB: 1 }, { name: `fc${l}` }));
    else {
      nodes.push(makeNode('MatMul', [prev, `w${l}`], [`m${l}`], {}, { name: `fc${l}` }));
      nodes.push(makeNode('Add', [`m${l}`, `b${l}`], [l === 2 ? out : `a${l}`]));
    }
    if (l < 2) nodes.push(makeNode('Relu', [`a${l}`], [out]));
    prev = out;
  }
  return makeModel(
    makeGraph({
      nodes,
      inputs: [makeValueInfo('x', 'float32', ['batch', 784])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 10])],
      initializers: inits,
    }),
  );
}

const MLP_MACS = 784 * 512 + 512 * 256 + 256 * 10;

test('MLP 784-512-256-10: MACs = 784*512 + 512*256 + 256*10 per sample, times the batch when given', () => {
  for (const gemm of [true, false]) {
    const m = mlp(gemm);
    const r = countMacs(m);
    assert.equal(r.total, MLP_MACS, gemm ? 'Gemm' : 'MatMul');
    assert.deepEqual(
      r.byNode.map((n) => [n.name, n.macs]),
      [
        ['fc0', 784 * 512],
        ['fc1', 512 * 256],
        ['fc2', 256 * 10],
      ],
    );
    assert.deepEqual(r.unknown, []);
    assert.equal(countMacs(m, { x: [8, 784] }).total, 8 * MLP_MACS);
    assert.equal(countMacs(m, inferShapes(m, { x: [2, 784] })).total, 2 * MLP_MACS);
  }
});

function convModel(opts: {
  cin: number;
  cout: number;
  k: number;
  hw: number;
  group?: number;
  pads?: number[];
  strides?: number[];
}): onnx.ModelProto {
  const { cin, cout, k, hw, group = 1 } = opts;
  return makeModel(
    makeGraph({
      nodes: [makeNode('Conv', ['x', 'w'], ['y'], { group, pads: opts.pads, strides: opts.strides }, { name: 'conv' })],
      inputs: [makeValueInfo('x', 'float32', ['N', cin, hw, hw])],
      outputs: [makeValueInfo('y', 'float32')],
      initializers: [zeros('w', [cout, cin / group, k, k])],
    }),
  );
}

test('Conv MACs: 3x3 1->8 on 28x28 with pads 1 = 28*28*8*9; grouped and strided convs', () => {
  assert.equal(countMacs(convModel({ cin: 1, cout: 8, k: 3, hw: 28, pads: [1, 1, 1, 1] })).total, 28 * 28 * 8 * 9);
  // Depthwise: each output channel sees one input channel.
  assert.equal(countMacs(convModel({ cin: 8, cout: 8, k: 3, hw: 14, group: 8, pads: [1, 1, 1, 1] })).total, 14 * 14 * 8 * 9);
  // Two groups of 4 -> 6 channels each: per output element 4*3*3.
  assert.equal(countMacs(convModel({ cin: 8, cout: 12, k: 3, hw: 10, group: 2 })).total, 8 * 8 * 12 * 4 * 9);
  // Stride 2, no padding: (28-3)/2+1 = 13.
  assert.equal(countMacs(convModel({ cin: 3, cout: 16, k: 3, hw: 28, strides: [2, 2] })).total, 13 * 13 * 16 * 3 * 9);
  assert.equal(
    countMacs(convModel({ cin: 1, cout: 8, k: 3, hw: 28, pads: [1, 1, 1, 1] }), { x: [4, 1, 28, 28] }).total,
    4 * 28 * 28 * 8 * 9,
  );
});

test('quantized and com.microsoft variants: MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv, MatMulNBits', () => {
  const s = (n: string) => makeTensor(n, 'float32', [], [0.1]);
  const zp = (n: string) => makeTensor(n, 'uint8', [], [128]);
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMulInteger', ['xq', 'wq', 'xzp', 'wzp'], ['mi'], {}, { name: 'mi' }),
        makeNode('QLinearMatMul', ['xq', 'xs', 'xzp', 'wq', 'ws', 'wzp', 'ys', 'yzp'], ['qm'], {}, { name: 'qm' }),
        makeNode('ConvInteger', ['img', 'cw', 'xzp'], ['ci'], { pads: [1, 1, 1, 1] }, { name: 'ci' }),
        makeNode('QLinearConv', ['img', 'xs', 'xzp', 'cw', 'ws', 'wzp', 'ys', 'yzp'], ['qc'], {}, { name: 'qc' }),
        makeNode(
          'MatMulNBits',
          ['a', 'nb', 'nbs'],
          ['nbo'],
          { K: 64, N: 32, bits: 4, block_size: 32 },
          { name: 'nb', domain: 'com.microsoft' },
        ),
      ],
      inputs: [
        makeValueInfo('xq', 'uint8', ['B', 6, 20]),
        makeValueInfo('img', 'uint8', ['B', 3, 10, 10]),
        makeValueInfo('a', 'float32', ['B', 16, 64]),
      ],
      outputs: ['mi', 'qm', 'ci', 'qc', 'nbo'].map((o) => makeValueInfo(o, 'float32')),
      initializers: [
        zeros('wq', [20, 30], 'uint8'),
        zeros('cw', [5, 3, 3, 3], 'uint8'),
        zeros('nb', [32, 2, 16], 'uint8'),
        zeros('nbs', [64]),
        s('xs'),
        s('ws'),
        s('ys'),
        zp('xzp'),
        zp('wzp'),
        zp('yzp'),
      ],
    }),
  );
  const r = countMacs(model);
  const by = Object.fromEntries(r.byNode.map((n) => [n.name, n.macs]));
  assert.deepEqual(by, {
    mi: 6 * 20 * 30,
    qm: 6 * 20 * 30,
    ci: 10 * 10 * 5 * 27,
    qc: 8 * 8 * 5 * 27,
    nb: 16 * 64 * 32,
  });
  assert.equal(
    r.total,
    Object.values(by).reduce((a, b) => a + b, 0),
  );
  assert.equal(
    countMacs(model, { xq: [2, 6, 20], img: [1, 3, 10, 10], a: [3, 16, 64] }).byNode.find((n) => n.name === 'nb')!.macs,
    3 * 16 * 64 * 32,
  );
});

test('LSTM, unknown shapes and uncounted ops are reported, not guessed', () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('LSTM', ['seq', 'W', 'R'], ['Y'], { hidden_size: 16, direction: 'bidirectional' }, { name: 'lstm' }),
        makeNode('Mystery', ['seq'], ['m'], {}, { domain: 'custom', name: 'mystery' }),
        makeNode('MatMul', ['m', 'W2'], ['mm']),
        makeNode('Einsum', ['seq', 'seq'], ['e'], { equation: 'ij,ij->i' }, { name: 'ein' }),
      ],
      inputs: [makeValueInfo('seq', 'float32', [5, 'B', 8])],
      outputs: ['Y', 'mm', 'e'].map((o) => makeValueInfo(o, 'float32')),
      initializers: [zeros('W', [2, 64, 8]), zeros('R', [2, 64, 16]), zeros('W2', [8, 4])],
    }),
  );
  const r = countMacs(model);
  assert.deepEqual(r.byNode, [{ name: 'lstm', opType: 'LSTM', macs: 2 * 5 * 1 * 4 * 16 * (8 + 16) }]);
  assert.deepEqual(r.unknown, ['mm', 'ein']);
});

test('a MatMul inside an If branch makes the If node unknown', () => {
  const body = makeGraph({
    nodes: [makeNode('MatMul', ['x', 'x'], ['o'])],
    inputs: [],
    outputs: [makeValueInfo('o', 'float32')],
  });
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('If', ['c'], ['y'], { then_branch: attr.graph(body), else_branch: attr.graph(body) }, { name: 'branch' })],
      inputs: [makeValueInfo('c', 'bool', []), makeValueInfo('x', 'float32', [2, 2])],
      outputs: [makeValueInfo('y', 'float32')],
    }),
  );
  assert.deepEqual(countMacs(model), { total: 0, byNode: [], unknown: ['branch'] });
});

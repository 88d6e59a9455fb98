import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { onnx } from '../onnx/proto.js';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/builder.js';
import { makeTensor, tensorNumel } from '../onnx/tensor.js';
import { countMacs, describeMacs } from './macs.js';
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

test('If: each branch is counted with the outer shapes it reads, the larger one is the If; a Loop body stays unknown', () => {
  const then = makeGraph({
    nodes: [makeNode('MatMul', ['x', 'x'], ['o1'], {}, { name: 'small' })],
    inputs: [],
    outputs: [makeValueInfo('o1', 'float32')],
  });
  const other = makeGraph({
    nodes: [makeNode('MatMul', ['x', 'w'], ['o2'], {}, { name: 'big' })],
    inputs: [],
    outputs: [makeValueInfo('o2', 'float32')],
    initializers: [zeros('w', [2, 4])],
  });
  const loopBody = makeGraph({
    nodes: [makeNode('MatMul', ['x', 'x'], ['o3'])],
    inputs: [makeValueInfo('i', 'int64', []), makeValueInfo('cond_in', 'bool', [])],
    outputs: [makeValueInfo('cond_in', 'bool'), makeValueInfo('o3', 'float32')],
  });
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('If', ['c'], ['y'], { then_branch: attr.graph(then), else_branch: attr.graph(other) }, { name: 'branch' }),
        makeNode('Loop', ['', 'c'], ['z'], { body: attr.graph(loopBody) }, { name: 'loop' }),
      ],
      inputs: [makeValueInfo('c', 'bool', []), makeValueInfo('x', 'float32', ['n', 2])],
      outputs: [makeValueInfo('y', 'float32'), makeValueInfo('z', 'float32')],
    }),
  );
  const r = countMacs(model);
  assert.equal(r.total, 1 * 2 * 4);
  assert.deepEqual(r.byNode, [{ name: 'big', opType: 'MatMul', macs: 8 }]);
  assert.deepEqual(r.branches, { branch: 'else_branch' });
  assert.deepEqual(r.unknown, ['loop']);
  assert.equal(r.lowerBound, true);
  assert.deepEqual(r.assumed, { n: 1 });
  assert.equal(countMacs(model, { x: [3, 2] }).total, 3 * 2 * 4);
  assert.match(
    describeMacs(r),
    /per sample at n=1 \(c \[\], x \[1, 2\]\); If counted at its larger branch \(branch: else_branch\); lower bound, not counted: loop$/,
  );
});

test('a MatMul after a shape-guarding If gets the shape its branches give (nothing after an If was counted before)', () => {
  const guard = (o: string) => makeGraph({ nodes: [makeNode('Identity', ['x'], [o])], inputs: [], outputs: [makeValueInfo(o, 'float32')] });
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('If', ['c'], ['g'], { then_branch: attr.graph(guard('ga')), else_branch: attr.graph(guard('gb')) }),
        makeNode('MatMul', ['g', 'w'], ['y'], {}, { name: 'after' }),
      ],
      inputs: [makeValueInfo('c', 'bool', []), makeValueInfo('x', 'float32', ['n', 2])],
      outputs: [makeValueInfo('y', 'float32')],
      initializers: [zeros('w', [2, 3])],
    }),
  );
  const r = countMacs(model);
  assert.deepEqual(r.byNode, [{ name: 'after', opType: 'MatMul', macs: 1 * 2 * 3 }]);
  assert.equal(r.lowerBound, false);
});

/** input_ids and attention_mask [batch_size, sequence_length] -> embedding [100, 8] -> MatMul [8, 8]; the mask scales the result. */
function tokenModel(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Gather', ['emb', 'input_ids'], ['e']),
        makeNode('MatMul', ['e', 'w'], ['h'], {}, { name: 'proj' }),
        makeNode('Cast', ['attention_mask'], ['m'], { to: 1 }),
        makeNode('Unsqueeze', ['m', 'axes'], ['m3']),
        makeNode('Mul', ['h', 'm3'], ['y']),
      ],
      inputs: [
        makeValueInfo('input_ids', 'int64', ['batch_size', 'sequence_length']),
        makeValueInfo('attention_mask', 'int64', ['batch_size', 'sequence_length']),
      ],
      outputs: [makeValueInfo('y', 'float32', ['batch_size', 'sequence_length', 8])],
      initializers: [zeros('emb', [100, 8]), zeros('w', [8, 8]), makeTensor('axes', 'int64', [1], [2])],
    }),
  );
}

test('symbolic dims: counted at the dims chooseInputDims picks, which the count names; given shapes fix shared symbols', () => {
  const m = tokenModel();
  const r = countMacs(m);
  assert.equal(r.total, 16 * 8 * 8);
  assert.deepEqual(r.assumed, { batch_size: 1, sequence_length: 16 });
  assert.deepEqual(r.inputShapes, { input_ids: [1, 16], attention_mask: [1, 16] });
  assert.equal(r.lowerBound, false);
  assert.equal(
    describeMacs(r),
    'MatMul/Gemm/Conv per sample at batch_size=1, sequence_length=16 (input_ids [1, 16], attention_mask [1, 16])',
  );
  // The caller's shapes are not assumptions; the other input follows the symbols they fix.
  const given = countMacs(m, { input_ids: [2, 5] });
  assert.equal(given.total, 2 * 5 * 8 * 8);
  assert.deepEqual(given.assumed, {});
  assert.deepEqual(given.inputShapes, { input_ids: [2, 5], attention_mask: [2, 5] });
});

// The op table against the onnxruntime-node it describes: every row that cites an onnxruntime-node probe
// has a one-node model here; checkTarget must match the row on it, and onnxruntime must accept (and run)
// or reject it as the row says. A new onnxruntime that changes a kernel fails this test, not a user.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { decodeModel, encodeModel } from '../onnx/codec.js';
import type { onnx } from '../onnx/proto.js';
import { matchRules } from './check-target.js';
import { feedValues, oneNode, tensor, type Elem } from './one-node.fixture.js';
import { OP_RULES, type OpRule } from './op-table.js';

interface Probe {
  readonly label: string;
  readonly model: onnx.ModelProto;
  /** Expected output y for feedValues' inputs (|got - want| <= 1e-5 * max(1, |want|)); absent: finite values only. */
  readonly want?: readonly number[];
}

const f32 = (n: string, dims: number[], fill: number | number[] = 0.1) => tensor(n, 'float32', dims, fill);
const ints = (a: Elem, b: Elem) => `${a === 'uint8' ? 'u8' : 'i8'}x${b === 'uint8' ? 'u8' : 'i8'}`;
const PAIRS: readonly (readonly [Elem, Elem])[] = [
  ['uint8', 'uint8'],
  ['uint8', 'int8'],
  ['int8', 'int8'],
  ['int8', 'uint8'],
];

// x = feedValues' i % 3 over [1,1,4,4]; w = 1..9 (3x3), zero points 0: y[i][j] = sum of the 3x3 window times w.
const CONV_X = Array.from({ length: 16 }, (_, i) => i % 3);
const convRef = (): number[] =>
  [0, 1, 4, 5].map((o) => {
    let s = 0;
    for (let u = 0; u < 3; u++) for (let v = 0; v < 3; v++) s += CONV_X[o + u * 4 + v]! * (u * 3 + v + 1);
    return s;
  });
const convInteger = (x: Elem, w: Elem): Probe => ({
  label: `ConvInteger ${ints(x, w)}`,
  model: oneNode({
    op: 'ConvInteger',
    args: ['x', 'w', 'xz', 'wz'],
    inputs: [['x', x, [1, 1, 4, 4]]],
    inits: [tensor('w', w, [1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]), tensor('xz', x, [], 0), tensor('wz', w, [], 0)],
    out: 'int32',
  }),
  want: convRef(),
});

// a = i % 3 over [2,4] -> [[0,1,2,0],[1,2,0,1]]; b = [4,3] of 2s: every y = 2 * row sum.
const matMulInteger = (a: Elem, b: Elem): Probe => ({
  label: `MatMulInteger ${ints(a, b)}`,
  model: oneNode({
    op: 'MatMulInteger',
    args: ['a', 'b', 'az', 'bz'],
    inputs: [['a', a, [2, 4]]],
    inits: [tensor('b', b, [4, 3], 2), tensor('az', a, [], 0), tensor('bz', b, [], 0)],
    out: 'int32',
  }),
  want: [6, 6, 6, 8, 8, 8],
});

const qlinearConv = (x: Elem, w: Elem): Probe => ({
  label: `QLinearConv ${ints(x, w)}`,
  model: oneNode({
    op: 'QLinearConv',
    args: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz'],
    inputs: [['x', x, [1, 1, 4, 4]]],
    inits: [
      f32('xs', [], 0.1),
      tensor('xz', x, [], 0),
      tensor('w', w, [2, 1, 3, 3], 1),
      f32('ws', [], 0.1),
      tensor('wz', w, [], 0),
      f32('ys', [], 0.1),
      tensor('yz', x, [], 0),
    ],
    out: x,
  }),
});

const qlinearMatMul = (a: Elem, b: Elem): Probe => ({
  label: `QLinearMatMul ${ints(a, b)}`,
  model: oneNode({
    op: 'QLinearMatMul',
    args: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'],
    inputs: [['a', a, [2, 4]]],
    inits: [
      f32('as', [], 0.1),
      tensor('az', a, [], 0),
      tensor('b', b, [4, 3], 1),
      f32('bs', [], 0.1),
      tensor('bz', b, [], 0),
      f32('ys', [], 0.1),
      tensor('yz', a, [], 0),
    ],
    out: a,
  }),
});

// MatMulNBits with K=64, N=2: every quantized weight is 9 (bytes 0x99), zero point 8 by default, so each
// dequantized weight is the block's scale 0.01; y = 0.01 * sum(a) per column.
const nbitsWant = (bits: number): number[] => {
  const a = Array.from({ length: 2 * 64 }, (_, i) => 0.1 * ((i % 5) - 2));
  const w = bits === 4 ? 1 : bits === 8 ? 0x99 - 128 : 0; // 2-bit: crumbs of 0x99 are 1,2,1,2 around zero point 2
  return [0, 1].flatMap((r) => {
    const row = a.slice(r * 64, r * 64 + 64);
    const s = bits === 2 ? row.reduce((acc, x, k) => acc + x * ((k % 2 === 0 ? 1 : 2) - 2), 0) : row.reduce((acc, x) => acc + x * w, 0);
    return [0.01 * s, 0.01 * s];
  });
};
const matMulNBits = (label: string, bits: number, blockSize: number, accuracyLevel = 0, want = true): Probe => {
  const K = 64;
  const N = 2;
  const blocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  return {
    label,
    model: oneNode({
      op: 'MatMulNBits',
      domain: 'com.microsoft',
      args: ['a', 'b', 's'],
      inputs: [['a', 'float32', [2, K]]],
      inits: [tensor('b', 'uint8', [N, blocks, Math.max(1, Math.floor(blob))], 0x99), f32('s', [N * blocks], 0.01)],
      attrs: { K, N, bits, block_size: blockSize, accuracy_level: accuracyLevel },
      out: 'float32',
    }),
    ...(want ? { want: nbitsWant(bits) } : {}),
  };
};

const fp16 = (op: string, args: string[], inits: onnx.TensorProto[], attrs?: Record<string, number>, opset = 13): Probe => ({
  label: `${op} float16`,
  model: oneNode({ op, args, inputs: [['a', 'float16', [2, 4]]], inits, ...(attrs ? { attrs } : {}), out: 'float16', opset }),
});

const PROBES: Readonly<Record<string, readonly Probe[]>> = {
  'ConvInteger.cpu': PAIRS.map(([x, w]) => convInteger(x, w)),
  'ConvInteger.int8-weights': [convInteger('uint8', 'int8'), convInteger('int8', 'int8')],
  'MatMulInteger.u8s8': [matMulInteger('uint8', 'int8')],
  'MatMulInteger.other': PAIRS.map(([a, b]) => matMulInteger(a, b)),
  DynamicQuantizeLinear: [
    {
      label: 'DynamicQuantizeLinear float32 -> uint8',
      model: oneNode({
        op: 'DynamicQuantizeLinear',
        args: ['x'],
        inputs: [['x', 'float32', [2, 4]]],
        out: 'uint8',
        extraOuts: [
          ['ys', 'float32'],
          ['yz', 'uint8'],
        ],
      }),
    },
  ],
  DynamicQuantizeMatMul: [
    ...(['int8', 'uint8'] as const).map((b): Probe => ({
      label: `DynamicQuantizeMatMul B=${b}`,
      model: oneNode({
        op: 'DynamicQuantizeMatMul',
        domain: 'com.microsoft',
        args: ['a', 'b', 'bs', 'bz'],
        inputs: [['a', 'float32', [2, 4]]],
        inits: [tensor('b', b, [4, 3], 2), f32('bs', [], 0.1), tensor('bz', b, [], 0)],
        out: 'float32',
      }),
    })),
    ...(
      [
        ['uint8', 'int8'],
        ['uint8', 'uint8'],
        ['int8', 'int8'],
      ] as const
    ).map(([a, b]): Probe => ({
      label: `MatMulIntegerToFloat ${ints(a, b)}`,
      model: oneNode({
        op: 'MatMulIntegerToFloat',
        domain: 'com.microsoft',
        args: ['a', 'b', 'as', 'bs', 'az', 'bz'],
        inputs: [['a', a, [2, 4]]],
        inits: [tensor('b', b, [4, 3], 2), f32('as', [], 0.5), f32('bs', [], 0.5), tensor('az', a, [], 0), tensor('bz', b, [], 0)],
        out: 'float32',
      }),
      // 0.5 * 0.5 * MatMulInteger's [6, 6, 6, 8, 8, 8].
      want: [1.5, 1.5, 1.5, 2, 2, 2],
    })),
  ],
  'QuantizeLinear.8bit': (['uint8', 'int8'] as const).flatMap((q): Probe[] => [
    {
      label: `QuantizeLinear per-tensor ${q}`,
      model: oneNode({
        op: 'QuantizeLinear',
        args: ['x', 's', 'z'],
        inputs: [['x', 'float32', [2, 4]]],
        inits: [f32('s', [], 0.1), tensor('z', q, [], 0)],
        out: q,
      }),
      // x = 0.1 * ((i % 5) - 2), scale 0.1: the integers (i % 5) - 2, clipped at 0 for uint8.
      want: Array.from({ length: 8 }, (_, i) => Math.max(q === 'uint8' ? 0 : -128, (i % 5) - 2)),
    },
    {
      label: `QuantizeLinear per-axis ${q}`,
      model: oneNode({
        op: 'QuantizeLinear',
        args: ['x', 's', 'z'],
        inputs: [['x', 'float32', [2, 4]]],
        inits: [f32('s', [4], 0.1), tensor('z', q, [4], 0)],
        attrs: { axis: 1 },
        out: q,
      }),
      want: Array.from({ length: 8 }, (_, i) => Math.max(q === 'uint8' ? 0 : -128, (i % 5) - 2)),
    },
  ]),
  'DequantizeLinear.per-axis': (['uint8', 'int8', 'int32'] as const).map((q): Probe => ({
    label: `DequantizeLinear per-axis ${q}`,
    model: oneNode({
      op: 'DequantizeLinear',
      args: ['x', 's', 'z'],
      inputs: [['x', q, [2, 4]]],
      inits: [f32('s', [4], [0.5, 1, 2, 4]), tensor('z', q, [4], 0)],
      attrs: { axis: 1 },
      out: 'float32',
    }),
    want: Array.from({ length: 8 }, (_, i) => (i % 3) * [0.5, 1, 2, 4][i % 4]!),
  })),
  'DequantizeLinear.4bit': (['uint4', 'int4'] as const).map((q): Probe => ({
    label: `DequantizeLinear per-axis ${q}`,
    model: oneNode({
      op: 'DequantizeLinear',
      opset: 21,
      args: ['x', 's', 'z'],
      inits: [tensor('x', q, [4, 8], [1, 2, 3]), f32('s', [8], 0.5), tensor('z', q, [8], 0)],
      attrs: { axis: 1 },
      out: 'float32',
    }),
    want: Array.from({ length: 32 }, (_, i) => 0.5 * [1, 2, 3][i % 3]!),
  })),
  'DequantizeLinear.blocked': (['uint8', 'uint4', 'int4'] as const).map((q): Probe => ({
    label: `DequantizeLinear blocked ${q}`,
    model: oneNode({
      op: 'DequantizeLinear',
      opset: 21,
      args: ['x', 's', 'z'],
      inits: [tensor('x', q, [8, 4], 3), f32('s', [2, 4], [0.5, 1]), tensor('z', q, [2, 4], 1)],
      attrs: { axis: 0, block_size: 4 },
      out: 'float32',
    }),
    // Rows 0-3 use scale row 0, rows 4-7 scale row 1; scales alternate 0.5, 1 along the 4 columns; (3 - 1) * scale.
    want: Array.from({ length: 32 }, (_, i) => 2 * [0.5, 1][(Math.floor(i / 16) * 4 + (i % 4)) % 2]!),
  })),
  'QLinearConv.ok': PAIRS.slice(0, 3).map(([x, w]) => qlinearConv(x, w)),
  'QLinearConv.i8xu8': [qlinearConv('int8', 'uint8')],
  'QLinearMatMul.ok': PAIRS.slice(0, 3).map(([a, b]) => qlinearMatMul(a, b)),
  'QLinearMatMul.i8xu8': [qlinearMatMul('int8', 'uint8')],
  'MatMulNBits.bits': [matMulNBits('MatMulNBits bits=3', 3, 32, 0, false), matMulNBits('MatMulNBits bits=5', 5, 32, 0, false)],
  'MatMulNBits.block-size': [
    matMulNBits('MatMulNBits block_size=8', 4, 8, 0, false),
    matMulNBits('MatMulNBits block_size=24', 4, 24, 0, false),
    matMulNBits('MatMulNBits block_size=512', 4, 512, 0, false),
  ],
  'MatMulNBits.cpu': [
    matMulNBits('MatMulNBits bits=4 bs=32', 4, 32),
    matMulNBits('MatMulNBits bits=4 bs=16', 4, 16),
    matMulNBits('MatMulNBits bits=4 bs=64', 4, 64),
    matMulNBits('MatMulNBits bits=4 bs=256', 4, 256),
    matMulNBits('MatMulNBits bits=8 bs=32', 8, 32),
    matMulNBits('MatMulNBits bits=2 bs=32', 2, 32),
  ],
  // accuracy_level 4 quantizes A to int8: checked for running, not against the float reference.
  'MatMulNBits.accuracy-level-4': [
    matMulNBits('MatMulNBits bits=4 acc=4', 4, 32, 4, false),
    matMulNBits('MatMulNBits bits=8 acc=4', 8, 32, 4, false),
  ],
  GatherBlockQuantized: (
    [
      ['uint8', 4, [10, 16]],
      ['uint8', 8, [10, 32]],
      ['int4', undefined, [10, 32]],
      ['uint4', undefined, [10, 32]],
    ] as const
  ).map(([d, bits, dims]): Probe => ({
    label: `GatherBlockQuantized ${d}${bits ? ` bits=${bits}` : ''}`,
    model: oneNode({
      op: 'GatherBlockQuantized',
      domain: 'com.microsoft',
      args: ['d', 'i', 's'],
      inputs: [['i', 'int32', [2]]],
      inits: [tensor('d', d, dims, 0x88), f32('s', [10, 1], 0.01)],
      attrs: { block_size: 32, gather_axis: 0, quantize_axis: 1, ...(bits ? { bits } : {}) },
      out: 'float32',
    }),
  })),
  'fp16.cast-wrapped': [
    fp16('MatMul', ['a', 'b'], [tensor('b', 'float16', [4, 3], 0.5)]),
    fp16('Gemm', ['a', 'b'], [tensor('b', 'float16', [4, 3], 0.5)]),
    {
      label: 'Conv float16',
      model: oneNode({
        op: 'Conv',
        args: ['a', 'w'],
        inputs: [['a', 'float16', [1, 1, 4, 4]]],
        inits: [tensor('w', 'float16', [1, 1, 3, 3], 0.5)],
        out: 'float16',
      }),
    },
    ...['Add', 'Sub', 'Mul', 'Div'].map((op) => fp16(op, ['a', 'b'], [tensor('b', 'float16', [4], 0.5)])),
    ...['Relu', 'Sigmoid', 'Tanh', 'Erf', 'Softmax'].map((op) => fp16(op, ['a'], [], undefined, op === 'Relu' ? 14 : 13)),
  ],
  'fp16.layer-norm': [
    fp16('LayerNormalization', ['a', 'g', 'b'], [tensor('g', 'float16', [4], 1), tensor('b', 'float16', [4], 0)], { axis: -1 }, 17),
  ],
};

const NODE_PROBED = OP_RULES.filter((r) => r.runtimes.includes('onnxruntime-node') && r.source.includes('[probe] onnxruntime-node'));

test('every row that cites an onnxruntime-node probe has one here, and every probe names a row', () => {
  assert.deepEqual(
    NODE_PROBED.map((r) => r.id).filter((id) => !PROBES[id]),
    [],
  );
  assert.deepEqual(
    Object.keys(PROBES).filter((id) => !NODE_PROBED.some((r) => r.id === id)),
    [],
  );
});

function ortTensor(type: Elem, dims: number[], values: number[]): ort.Tensor {
  switch (type) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(values), dims);
    case 'uint8':
      return new ort.Tensor('uint8', Uint8Array.from(values), dims);
    case 'int8':
      return new ort.Tensor('int8', Int8Array.from(values), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(values), dims);
    case 'float16':
      // 0x2c00 is 0.0625: any finite half works, the fp16 probes check kernels, not values.
      return new ort.Tensor('float16', new Uint16Array(values.length).fill(0x2c00), dims);
    default:
      throw new Error(`no feed for ${type}`);
  }
}

/** Cast nodes onnxruntime put into the graph it runs (it saves that graph when asked). */
function castsInserted(bytes: Uint8Array, dir: string, name: string): Promise<number> {
  const file = path.join(dir, `${name.replace(/\W+/g, '_')}.onnx`);
  return ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', optimizedModelFilePath: file, logSeverityLevel: 4 }).then(
    async (s) => {
      await s.release();
      return (decodeModel(readFileSync(file)).graph?.node ?? []).filter((n) => n.opType === 'Cast').length;
    },
  );
}

async function probe(rule: OpRule, p: Probe, dir: string): Promise<void> {
  const where = `${rule.id} / ${p.label}`;
  const matched = matchRules(p.model, 'cpu-portable', { rules: [rule] });
  assert.equal(matched.length, 1, `${where}: checkTarget does not match its own row`);
  const bytes = encodeModel(p.model);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', logSeverityLevel: 4 });
  } catch (e) {
    assert.equal(rule.supported, 'rejected', `${where}: onnxruntime rejected it: ${String(e).split('\n')[0]}`);
    return;
  }
  try {
    assert.notEqual(
      rule.supported,
      'rejected',
      `${where}: the table says rejected, onnxruntime-node ${ort.env.versions.common} accepts it`,
    );
    const feeds = Object.fromEntries(Object.entries(feedValues(p.model)).map(([n, f]) => [n, ortTensor(f.type, f.dims, f.values)]));
    const y = (await session.run(feeds))['y']!;
    const got = y.type === 'float16' ? [] : Array.from(y.data as ArrayLike<number>, Number);
    for (const v of got) assert.ok(Number.isFinite(v), `${where}: output ${v}`);
    if (p.want) {
      assert.equal(got.length, p.want.length, `${where}: output size`);
      p.want.forEach((w, i) =>
        assert.ok(Math.abs(got[i]! - w) <= 1e-5 * Math.max(1, Math.abs(w)), `${where}: y[${i}] = ${got[i]}, want ${w}`),
      );
    }
  } finally {
    await session.release();
  }
  if (rule.id.startsWith('fp16.')) {
    const casts = await castsInserted(bytes, dir, p.label);
    if (rule.id === 'fp16.cast-wrapped')
      assert.ok(casts >= 2, `${where}: onnxruntime inserted ${casts} Casts; the table says it runs in float32 between Casts`);
    else assert.equal(casts, 0, `${where}: onnxruntime inserted ${casts} Casts; the table says the kernel is native float16`);
  }
}

test(`the op table's onnxruntime-node rows agree with onnxruntime-node ${ort.env.versions.common}`, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'shrink-target-'));
  try {
    for (const rule of NODE_PROBED) for (const p of PROBES[rule.id] ?? []) await probe(rule, p, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

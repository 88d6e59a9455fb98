import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, attr } from '../onnx/builder.js';
import { checkTarget } from './check-target.js';
import { oneNode, tensor } from './one-node.fixture.js';
import { TARGET_NAMES, type TargetName } from './targets.js';

const qlinearMatMul = (a: 'int8' | 'uint8', b: 'int8' | 'uint8') =>
  oneNode({
    op: 'QLinearMatMul',
    args: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'],
    inputs: [['a', a, [2, 4]]],
    inits: [
      tensor('as', 'float32', [], 0.1),
      tensor('az', a, [], 0),
      tensor('b', b, [4, 3], 1),
      tensor('bs', 'float32', [], 0.1),
      tensor('bz', b, [], 0),
      tensor('ys', 'float32', [], 0.1),
      tensor('yz', a, [], 0),
    ],
    out: a,
  });

const matMulInteger = (w: readonly number[]) =>
  oneNode({
    op: 'MatMulInteger',
    args: ['a', 'b'],
    inputs: [['a', 'uint8', [2, 4]]],
    inits: [tensor('b', 'int8', [4, 3], w)],
    out: 'int32',
  });

const convInteger = oneNode({
  op: 'ConvInteger',
  args: ['x', 'w'],
  inputs: [['x', 'uint8', [1, 1, 4, 4]]],
  inits: [tensor('w', 'uint8', [1, 1, 3, 3], 3)],
  out: 'int32',
});

const kinds = (model: Parameters<typeof checkTarget>[0], target: TargetName, cpu?: Parameters<typeof checkTarget>[2]) =>
  checkTarget(model, target, cpu).map((f) => `${f.severity} ${f.kind} ${f.rule}`);

test('QLinearMatMul int8 x uint8 is an error on every target; uint8 x int8 is not', () => {
  for (const t of TARGET_NAMES) {
    const f = checkTarget(qlinearMatMul('int8', 'uint8'), t);
    assert.equal(f.length, 1, `${t}: ${JSON.stringify(f)}`);
    assert.equal(f[0]!.severity, 'error');
    assert.equal(f[0]!.node, 'n0');
    assert.equal(f[0]!.rule, 'QLinearMatMul.i8xu8');
    assert.match(f[0]!.source, /\[probe\] onnxruntime-node 1\.30/);
    assert.ok(!checkTarget(qlinearMatMul('uint8', 'int8'), t).some((x) => x.severity === 'error'), t);
  }
});

test('MatMulNBits bits=3 is an error; bits=4 with block_size 32 is not', () => {
  const nbits = (bits: number) =>
    oneNode({
      op: 'MatMulNBits',
      domain: 'com.microsoft',
      args: ['a', 'b', 's'],
      inputs: [['a', 'float32', [2, 64]]],
      inits: [tensor('b', 'uint8', [2, 2, (32 * bits) / 8], 0x99), tensor('s', 'float32', [4], 0.01)],
      attrs: { K: 64, N: 2, bits, block_size: 32 },
      out: 'float32',
    });
  for (const t of ['cpu', 'cpu-x86-avx512-vnni', 'wasm', 'webgpu'] as const) {
    assert.deepEqual(kinds(nbits(3), t), ['error rejected MatMulNBits.bits'], t);
    assert.deepEqual(kinds(nbits(4), t), [], t);
  }
  // The WebGPU kernel's 8-bit support is not confirmed for 1.30: a warning, not silence.
  assert.deepEqual(kinds(nbits(8), 'webgpu'), ['warn unconfirmed MatMulNBits.webgpu-not-4bit']);
});

test('ConvInteger: slow on cpu, falls back to the CPU EP on webgpu, no finding on wasm', () => {
  assert.deepEqual(kinds(convInteger, 'cpu'), ['warn slow ConvInteger.cpu']);
  assert.deepEqual(kinds(convInteger, 'cpu-x86-avx2'), ['warn slow ConvInteger.cpu']);
  assert.deepEqual(kinds(convInteger, 'webgpu'), ['warn cpu-fallback webgpu.cpu-fallback']);
  assert.deepEqual(kinds(convInteger, 'wasm'), []);
});

test('a float32 MLP has no findings on any target', () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'w1'], ['h']),
        makeNode('Add', ['h', 'b1'], ['hb']),
        makeNode('Relu', ['hb'], ['r']),
        makeNode('MatMul', ['r', 'w2'], ['y']),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 8])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 2])],
      initializers: [
        makeTensor('w1', 'float32', [8, 4], new Float32Array(32).fill(0.1)),
        makeTensor('b1', 'float32', [4], [0, 0, 0, 0]),
        makeTensor('w2', 'float32', [4, 2], new Float32Array(8).fill(0.1)),
      ],
    }),
  );
  for (const t of TARGET_NAMES) assert.deepEqual(checkTarget(model, t), [], t);
});

test('u8s8 saturation: warned on AVX2 and AVX-512 without VNNI for weights beyond [-64, 64] (Shrink’s 7-bit q8 stays inside), not on VNNI, ARM or wasm', () => {
  const wide = matMulInteger([-128, 5, 127]);
  const narrow = matMulInteger([-64, 5, 64]);
  const justOut = matMulInteger([-65, 5, 64]);
  for (const t of ['cpu-x86-avx2', 'cpu-x86-avx512', 'cpu-portable'] as const)
    assert.deepEqual(kinds(wide, t), ['warn may-saturate MatMulInteger.u8s8-saturates'], t);
  for (const t of ['cpu-x86-avx512-vnni', 'cpu-x86-amx', 'cpu-arm64', 'wasm'] as const) assert.deepEqual(kinds(wide, t), [], t);
  assert.deepEqual(kinds(narrow, 'cpu-x86-avx2'), []);
  assert.deepEqual(kinds(justOut, 'cpu-x86-avx2'), ['warn may-saturate MatMulInteger.u8s8-saturates']);
  // `cpu` is this machine once detected; undetected it is checked as every CPU.
  assert.deepEqual(kinds(wide, 'cpu', { cpu: 'cpu-x86-avx512-vnni' }), []);
  assert.deepEqual(kinds(wide, 'cpu', { cpu: 'cpu-x86-avx2' }), ['warn may-saturate MatMulInteger.u8s8-saturates']);
  assert.match(checkTarget(wide, 'cpu')[0]!.message, /on CPUs without VNNI/);
});

test('float16 compute: slow on x86 and wasm (Cast-wrapped), an overflow risk on webgpu; LayerNormalization is native', () => {
  const mm = oneNode({
    op: 'MatMul',
    args: ['a', 'b'],
    inputs: [['a', 'float16', [2, 4]]],
    inits: [tensor('b', 'float16', [4, 3], 0.5)],
    out: 'float16',
  });
  assert.deepEqual(kinds(mm, 'cpu-x86-avx512-vnni'), ['warn slow fp16.cast-wrapped']);
  assert.deepEqual(kinds(mm, 'wasm'), ['warn slow fp16.cast-wrapped']);
  assert.deepEqual(kinds(mm, 'webgpu'), ['warn may-overflow fp16.webgpu']);
  const ln = oneNode({
    op: 'LayerNormalization',
    opset: 17,
    args: ['a', 'g'],
    inputs: [['a', 'float16', [2, 4]]],
    inits: [tensor('g', 'float16', [4], 1)],
    attrs: { axis: -1 },
    out: 'float16',
  });
  assert.deepEqual(kinds(ln, 'cpu-x86-avx2'), []);
});

test('nodes in If bodies are checked, with types and weights from the enclosing graph', () => {
  const branch = (name: string, withConv: boolean) =>
    makeGraph({
      name,
      nodes: withConv
        ? [makeNode('ConvInteger', ['x', 'w'], [`${name}_y`], undefined, { name: `${name}_conv` })]
        : [makeNode('Identity', ['x'], [`${name}_y`])],
      inputs: [],
      outputs: [makeValueInfo(`${name}_y`, withConv ? 'int32' : 'uint8')],
    });
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('If', ['c'], ['y'], { then_branch: attr.graph(branch('then', true)), else_branch: attr.graph(branch('else', false)) }),
      ],
      inputs: [makeValueInfo('c', 'bool', []), makeValueInfo('x', 'uint8', [1, 1, 4, 4])],
      outputs: [makeValueInfo('y', 'int32')],
      initializers: [makeTensor('w', 'int8', [1, 1, 3, 3], new Int8Array(9).fill(100))],
    }),
  );
  const f = checkTarget(model, 'cpu-x86-avx2');
  assert.deepEqual(
    f.map((x) => `${x.node} ${x.kind}`),
    ['then_conv slow', 'then_conv may-saturate'],
  );
});

// kernelPaths is pure: the ISA is an argument, so the VNNI and the AVX2 rows are checked on any machine.
// The dynamic q8 graph below is the form @shrink/quantize's quantizeModel writes for a MatMul (core cannot
// import the quantize package); pipeline.test.ts checks kernelPaths on a model the real pass wrote.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { kernelPaths, kernelPlace, KERNEL_RULES } from './kernel-paths.js';
import { oneNode, tensor } from './one-node.fixture.js';
import { targetContext, TARGET_NAMES } from './targets.js';

/** x -> DynamicQuantizeLinear -> MatMulInteger(int8 w) -> Cast -> Mul(scale): q8 dynamic, twice; a weight-only Conv. */
function dynamicQ8(): ReturnType<typeof makeModel> {
  const layer = (i: number, x: string, out: string) => [
    makeNode('DynamicQuantizeLinear', [x], [`${x}_q`, `${x}_s`, `${x}_z`], {}, { name: `dql${i}` }),
    makeNode('MatMulInteger', [`${x}_q`, `w${i}`, `${x}_z`], [`mm${i}`], {}, { name: `mmi${i}` }),
    makeNode('Cast', [`mm${i}`], [`mmf${i}`], { to: 1 }),
    makeNode('Mul', [`${x}_s`, `ws${i}`], [`sc${i}`]),
    makeNode('Mul', [`mmf${i}`, `sc${i}`], [out]),
  ];
  const wide = Array.from({ length: 32 }, (_, i) => (i % 2 ? 127 : -127));
  return makeModel(
    makeGraph({
      nodes: [
        ...layer(1, 'x', 'h'),
        makeNode('Relu', ['h'], ['r']),
        ...layer(2, 'r', 'y'),
        // Shrink's weight-only Conv: int8 codes, Cast to float, times a per-channel scale
        makeNode('Cast', ['cw'], ['cwf'], { to: 1 }),
        makeNode('Mul', ['cwf', 'cws'], ['cwd']),
        makeNode('Conv', ['img', 'cwd'], ['c'], {}, { name: 'conv' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 8]), makeValueInfo('img', 'float32', [1, 1, 4, 4])],
      outputs: [makeValueInfo('y', 'float32', [1, 4]), makeValueInfo('c', 'float32', [1, 2, 2, 2])],
      initializers: [
        makeTensor('w1', 'int8', [8, 4], Int8Array.from(wide)),
        makeTensor('ws1', 'float32', [], [0.01]),
        makeTensor('w2', 'int8', [4, 4], new Int8Array(16).fill(3)),
        makeTensor('ws2', 'float32', [], [0.01]),
        makeTensor('cw', 'int8', [2, 1, 3, 3], new Int8Array(18).fill(5)),
        makeTensor('cws', 'float32', [2, 1, 1, 1], [0.1, 0.2]),
      ],
    }),
  );
}

test('dynamic q8 on avx512-vnni: the VPDPBUSD row; on avx2: the VPMADDUBSW row; the weight-only Conv folds at load', () => {
  const vnni = kernelPaths(dynamicQ8(), targetContext('cpu', 'cpu-x86-avx512-vnni'), 'avx512-vnni');
  assert.deepEqual(
    vnni.map((r) => [r.opType, r.form, r.count, r.path]),
    [
      ['MatMulInteger', 'u8 x s8', 2, 'MLAS u8s8 GEMM, VPDPBUSD (int32 sums)'],
      ['Conv', 'int8 weights', 1, 'float kernel; weights dequantized once when the session loads (constant folding)'],
    ],
  );
  const avx2 = kernelPaths(dynamicQ8(), targetContext('cpu', 'cpu-x86-avx2'), 'avx2');
  assert.equal(avx2[0]!.path, 'MLAS u8s8 GEMM, VPMADDUBSW (int16 pair sums; weights within ±64 are exact)');
  assert.equal(avx2[0]!.count, 2);
  // the isa argument decides for `cpu`, whatever this machine is; a named ISA target ignores it
  assert.equal(kernelPaths(dynamicQ8(), targetContext('cpu'), 'avx512-vnni')[0]!.path, vnni[0]!.path);
  assert.equal(kernelPaths(dynamicQ8(), targetContext('cpu-x86-avx2', 'cpu-x86-avx512-vnni'), 'avx512-vnni')[0]!.path, avx2[0]!.path);
  for (const r of [...vnni, ...avx2]) assert.match(r.source, /onnxruntime|probe|issue/);
});

test('wasm, webgpu and cpu-portable name their own paths', () => {
  const wasm = kernelPaths(dynamicQ8(), targetContext('wasm', 'cpu-x86-avx2'), 'avx2');
  assert.equal(wasm[0]!.path, 'MLAS compiled to WASM SIMD (int32 sums)');
  const gpu = kernelPaths(dynamicQ8(), targetContext('webgpu'), 'avx2');
  assert.match(gpu[0]!.path, /^CPU fallback \(wasm EP\)/);
  assert.match(gpu[1]!.path, /constant folding/);
  const portable = kernelPaths(dynamicQ8(), targetContext('cpu-portable', 'cpu-x86-avx512-vnni'), 'avx512-vnni');
  assert.match(portable[0]!.path, /VPDPBUSD .* VPMADDUBSW/);
});

test('ConvInteger, QLinearConv, QDQ, MatMulNBits, uint8 weights and float16 ops', () => {
  const convInteger = oneNode({
    op: 'ConvInteger',
    args: ['x', 'w'],
    inputs: [['x', 'uint8', [1, 1, 4, 4]]],
    inits: [tensor('w', 'int8', [1, 1, 3, 3], 3)],
    out: 'int32',
  });
  assert.equal(
    kernelPaths(convInteger, targetContext('cpu-x86-avx512-vnni'))[0]!.path,
    'im2col + integer GEMM (MLAS u8s8, VPDPBUSD (int32 sums)), no fusion with the activation',
  );
  const u8 = oneNode({
    op: 'MatMulInteger',
    args: ['a', 'b'],
    inputs: [['a', 'uint8', [2, 4]]],
    inits: [tensor('b', 'uint8', [4, 3], 1)],
    out: 'int32',
  });
  assert.match(kernelPaths(u8, targetContext('cpu-x86-avx2'))[0]!.path, /^MLAS u8u8 GEMM/);
  const qconv = oneNode({
    op: 'QLinearConv',
    args: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz'],
    inputs: [['x', 'uint8', [1, 1, 4, 4]]],
    inits: [
      tensor('xs', 'float32', [], 0.1),
      tensor('xz', 'uint8', [], 0),
      tensor('w', 'int8', [1, 1, 3, 3], 1),
      tensor('ws', 'float32', [], 0.1),
      tensor('wz', 'int8', [], 0),
      tensor('ys', 'float32', [], 0.1),
      tensor('yz', 'uint8', [], 0),
    ],
    out: 'uint8',
  });
  const q = kernelPaths(qconv, targetContext('cpu-x86-avx2'))[0]!;
  assert.equal(q.form, 'u8 x s8');
  assert.match(q.path, /^MLAS quantized conv \(u8s8 GEMM, VPMADDUBSW/);
  // static QDQ: the float MatMul between DequantizeLinear of a run-time activation and of constant int8 weights
  const qdq = makeModel(
    makeGraph({
      nodes: [
        makeNode('QuantizeLinear', ['x', 's', 'zu'], ['xq']),
        makeNode('DequantizeLinear', ['xq', 's', 'zu'], ['xd']),
        makeNode('DequantizeLinear', ['w', 's', 'zs'], ['wd']),
        makeNode('MatMul', ['xd', 'wd'], ['y']),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 4])],
      outputs: [makeValueInfo('y', 'float32', [1, 2])],
      initializers: [
        makeTensor('s', 'float32', [], [0.1]),
        makeTensor('zu', 'uint8', [], [128]),
        makeTensor('zs', 'int8', [], [0]),
        makeTensor('w', 'int8', [4, 2], new Int8Array(8).fill(2)),
      ],
    }),
  );
  const qd = kernelPaths(qdq, targetContext('cpu-x86-avx512-vnni'));
  assert.deepEqual(
    qd.map((r) => [r.opType, r.form]),
    [['MatMul', 'QDQ u8 x s8']],
  );
  assert.match(qd[0]!.path, /^fused into QLinearConv\/QLinearMatMul\/QGemm .* VPDPBUSD/);
  const nbits = (level: number) =>
    oneNode({
      op: 'MatMulNBits',
      domain: 'com.microsoft',
      args: ['a', 'b', 's'],
      inputs: [['a', 'float32', [2, 64]]],
      inits: [tensor('b', 'uint8', [2, 2, 16], 0x99), tensor('s', 'float32', [4], 0.01)],
      attrs: { K: 64, N: 2, bits: 4, block_size: 32, accuracy_level: level },
      out: 'float32',
    });
  assert.equal(kernelPaths(nbits(4), targetContext('cpu'), 'avx2')[0]!.path, 'int8 dot kernels (A quantized per block)');
  assert.equal(kernelPaths(nbits(0), targetContext('cpu'), 'avx2')[0]!.path, 'float kernel on dequantized blocks');
  const fp16 = oneNode({
    op: 'Add',
    args: ['a', 'b'],
    inputs: [['a', 'float16', [2]]],
    inits: [tensor('b', 'float16', [2], 1)],
    out: 'float16',
  });
  assert.equal(kernelPaths(fp16, targetContext('cpu'), 'avx512-vnni')[0]!.path, 'Cast-wrapped: float32 kernel between two Casts');
  assert.match(kernelPaths(fp16, targetContext('webgpu'))[0]!.path, /^native float16 shader/);
});

test('a float model has no rows; every target and form has a row', () => {
  const float = oneNode({
    op: 'MatMul',
    args: ['a', 'b'],
    inputs: [['a', 'float32', [1, 4]]],
    inits: [tensor('b', 'float32', [4, 2])],
    out: 'float32',
  });
  for (const t of TARGET_NAMES) {
    assert.deepEqual(kernelPaths(float, targetContext(t, 'cpu-x86-avx2'), 'avx2'), [], t);
    const place = kernelPlace(targetContext(t, 'cpu-x86-avx2'), 'avx2');
    for (const form of new Set(KERNEL_RULES.map((r) => r.form)))
      assert.ok(
        KERNEL_RULES.some((r) => r.form === form && (r.places === undefined || r.places.includes(place))),
        `${t} (${place}) has no ${form} row`,
      );
  }
});

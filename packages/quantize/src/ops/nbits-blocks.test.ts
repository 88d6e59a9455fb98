import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float16ToFloat32, float32ToFloat16, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, ShrinkError } from '@shrink/core';
import { createSession } from '@shrink/core/runtime';
import { lcgValues } from '../test-data.fixture.js';
import { dequantizeBlockwise, quantizeBlockwise, zeroPointBytes, type BlockwiseWeights, type NBits } from './nbits-blocks.js';

test('4-bit symmetric block: scale = -(largest magnitude, signed) / 8, codes k (known answer)', () => {
  // One column of 16 values -8..7: the largest magnitude is -8, so scale = 1 and code = x + 8.
  const b = Float32Array.from({ length: 16 }, (_, k) => k - 8);
  const w = quantizeBlockwise(b, 16, 1, { bits: 4, blockSize: 16, symmetric: true });
  assert.deepEqual([...w.scales], [1]);
  assert.equal(w.zeroPoints, undefined);
  assert.deepEqual([...w.packed], [0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe]);
  assert.deepEqual([...dequantizeBlockwise(w)], [...b]);
  // A positive peak gives a negative scale: 4 lands on code 0, -3.9 (7.8 steps up) clamps to code 15.
  const p = quantizeBlockwise(Float32Array.from([4, -3.9, 0, 2, ...new Array(12).fill(0)]), 16, 1, {
    bits: 4,
    blockSize: 16,
    symmetric: true,
  });
  assert.deepEqual([...p.scales], [-0.5]);
  assert.deepEqual([...p.packed.subarray(0, 2)], [0xf0, 0x48]);
});

test('4-bit asymmetric block: range widened to 0, zero point stored two per byte (known answer)', () => {
  // (k - 5) / 2 for k = 0..15: min -2.5, max 5 -> scale 0.5, zero point 5, codes k.
  const b = Float32Array.from({ length: 16 }, (_, k) => (k - 5) / 2);
  const w = quantizeBlockwise(b, 16, 1, { bits: 4, blockSize: 16, symmetric: false });
  assert.deepEqual([...w.scales], [0.5]);
  assert.deepEqual([...w.packed], [0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe]);
  // One block: low nibble 5, the spare high nibble gets the default zero point 8.
  assert.deepEqual([...w.zeroPoints!], [0x85]);
  assert.deepEqual([...dequantizeBlockwise(w)], [...b]);
});

test('8-bit blocks: one code and one zero point per byte (known answer)', () => {
  const b = Float32Array.from({ length: 16 }, (_, k) => k - 8);
  const sym = quantizeBlockwise(b, 16, 1, { bits: 8, blockSize: 16, symmetric: true });
  assert.deepEqual([...sym.scales], [8 / 128]);
  assert.deepEqual([...sym.packed], [...b.map((x) => x * 16 + 128)]);
  const asym = quantizeBlockwise(b, 16, 1, { bits: 8, blockSize: 16, symmetric: false });
  assert.equal(asym.scales[0], Math.fround(15 / 255));
  assert.deepEqual([...asym.zeroPoints!], [136]); // round(8 / (15/255)) = 136
});

test('layout: column-major blocks [N, n_blocks, blob]; a partial last block is padded with the zero point', () => {
  // K = 20, N = 2, block 16: column n holds n + 1 everywhere, so every block's codes are 0 (symmetric).
  const K = 20;
  const b = new Float32Array(K * 2).map((_, i) => (i % 2) + 1);
  const w = quantizeBlockwise(b, K, 2, { bits: 4, blockSize: 16, symmetric: true });
  assert.equal(w.nBlocks, 2);
  assert.equal(w.blobSize, 8);
  assert.deepEqual([...w.scales], [-1 / 8, -1 / 8, -2 / 8, -2 / 8]);
  // Block 1 holds 4 real codes (0) then 12 padding codes (8 = zero point).
  assert.deepEqual([...w.packed.subarray(8, 16)], [0, 0, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88]);
  assert.deepEqual([...dequantizeBlockwise(w)], [...b]);
  const asym = quantizeBlockwise(b, K, 2, { bits: 4, blockSize: 16, symmetric: false });
  assert.equal(zeroPointBytes(2, 4), 1);
  assert.equal(asym.zeroPoints!.length, 2); // [N, ceil(2 * 4 / 8)]
});

test('quantizeBlockwise refuses non-finite weights and bad shapes', () => {
  const b = new Float32Array(32);
  b[5] = NaN;
  assert.throws(
    () => quantizeBlockwise(b, 32, 1, { bits: 4, blockSize: 32, symmetric: true, name: 'W' }),
    (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_MODEL' && /tensor 'W'.*NaN/.test(e.message),
  );
  assert.throws(() => quantizeBlockwise(new Float32Array(32), 32, 1, { bits: 4, blockSize: 24, symmetric: true }), /power of two/);
  assert.throws(
    () => quantizeBlockwise(new Float32Array(31), 32, 1, { bits: 4, blockSize: 32, symmetric: true }),
    /holds 32 values but 31/,
  );
});

/**
 * One MatMulNBits node over `w` in onnxruntime vs A @ dequantize(`ref`) in float64 (`ref` = `w` unless a
 * test hands onnxruntime a deliberately wrong layout); returns max |error| / max |reference|.
 */
async function ortError(
  w: BlockwiseWeights,
  opts: { accuracyLevel: number; float16?: boolean; bias?: Float32Array; M?: number },
  ref: BlockwiseWeights = w,
): Promise<number> {
  const { K, N } = w;
  const M = opts.M ?? 5;
  const a = lcgValues(M * K, 3);
  const ft = opts.float16 ? 'float16' : 'float32';
  const float = (name: string, dims: number[], data: Float32Array) =>
    opts.float16 ? makeTensor(name, 'float16', dims, float32ToFloat16(data)) : makeTensor(name, 'float32', dims, data);
  const inits = [makeTensor('B', 'uint8', [N, w.nBlocks, w.blobSize], w.packed), float('scales', [N, w.nBlocks], w.scales)];
  const inputs = ['A', 'B', 'scales'];
  if (w.zeroPoints) {
    inits.push(makeTensor('zp', 'uint8', [N, zeroPointBytes(w.nBlocks, w.bits)], w.zeroPoints));
    inputs.push('zp');
  } else if (opts.bias) inputs.push('');
  if (opts.bias) {
    inputs.push('', 'bias');
    inits.push(float('bias', [N], opts.bias));
  }
  const node = makeNode(
    'MatMulNBits',
    inputs,
    ['Y'],
    { K, N, bits: w.bits, block_size: w.blockSize, accuracy_level: opts.accuracyLevel },
    { domain: 'com.microsoft' },
  );
  const model = makeModel(
    makeGraph({ nodes: [node], inputs: [makeValueInfo('A', ft, [M, K])], outputs: [makeValueInfo('Y', ft, [M, N])], initializers: inits }),
  );
  const session = await createSession(model);
  try {
    const feed = opts.float16 ? { data: float32ToFloat16(a), dims: [M, K], type: 'float16' as const } : { data: a, dims: [M, K] };
    const out = (await session.run({ A: feed }))['Y']!;
    const y = opts.float16 ? float16ToFloat32(out.data as Uint16Array) : (out.data as Float32Array);
    // The reference sees what onnxruntime sees: float16 inputs are rounded first.
    const round = (x: Float32Array) => (opts.float16 ? float16ToFloat32(float32ToFloat16(x)) : x);
    const ar = round(a);
    const deq = dequantizeBlockwise({ ...ref, scales: round(ref.scales) });
    const bias = opts.bias ? round(opts.bias) : undefined;
    let err = 0;
    let peak = 0;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let r = bias ? bias[n]! : 0;
        for (let k = 0; k < K; k++) r += ar[m * K + k]! * deq[k * N + n]!;
        err = Math.max(err, Math.abs(r - y[m * N + n]!));
        peak = Math.max(peak, Math.abs(r));
      }
    }
    return err / peak;
  } finally {
    await session.release();
  }
}

// K = 200 is not a multiple of 32, 64 or 128: every case has a partial last block.
const K = 200;
const N = 24;
for (const bits of [4, 8] as NBits[]) {
  for (const symmetric of [true, false]) {
    test(`MatMulNBits in onnxruntime = MatMul with the dequantized weights (${bits}-bit, ${symmetric ? 'symmetric' : 'zero points'}, blocks 32/64/128, K=${K}), within 1e-5 relative`, async () => {
      const b = lcgValues(K * N, 7);
      for (const blockSize of [32, 64, 128]) {
        const w = quantizeBlockwise(b, K, N, { bits, blockSize, symmetric });
        // accuracy_level 0: float32 compute, so any difference is the layout, not rounding of A.
        const e = await ortError(w, { accuracyLevel: 0 });
        assert.ok(e < 1e-5, `block ${blockSize}: relative error ${e}`);
      }
    });
  }
}

test('the equivalence check catches a wrong layout (nibbles swapped, or scales in [n_blocks, N] order)', async () => {
  const w = quantizeBlockwise(lcgValues(K * N, 7), K, N, { bits: 4, blockSize: 32, symmetric: false });
  const swapped = w.packed.map((x) => ((x & 0xf) << 4) | (x >> 4));
  const e1 = await ortError({ ...w, packed: swapped }, { accuracyLevel: 0 }, w);
  assert.ok(e1 > 0.05, `swapped nibbles: ${e1}`);
  const transposed = new Float32Array(w.scales.length).map((_, i) => w.scales[(i % w.nBlocks) * N + Math.floor(i / w.nBlocks)]!);
  const e2 = await ortError({ ...w, scales: transposed }, { accuracyLevel: 0 }, w);
  assert.ok(e2 > 0.05, `transposed scales: ${e2}`);
});

test('bias input, accuracy_level 4 (int8 activations) and float16 A/scales/bias run on onnxruntime CPU', async () => {
  const b = lcgValues(K * N, 9);
  const bias = lcgValues(N, 11);
  const w4 = quantizeBlockwise(b, K, N, { bits: 4, blockSize: 32, symmetric: true });
  assert.ok((await ortError(w4, { accuracyLevel: 0, bias })) < 1e-5, 'bias, float32');
  // accuracy_level 4 quantizes A to int8 per block inside the kernel: measured ~4e-3 here.
  assert.ok((await ortError(w4, { accuracyLevel: 4, bias })) < 2e-2, 'accuracy_level 4');
  const w8 = quantizeBlockwise(b, K, N, { bits: 8, blockSize: 64, symmetric: false });
  assert.ok((await ortError(w8, { accuracyLevel: 4 })) < 2e-2, '8-bit, accuracy_level 4');
  // float16 output rounding alone is up to 2^-11 relative.
  assert.ok((await ortError(w4, { accuracyLevel: 0, float16: true, bias })) < 3e-3, 'float16');
});

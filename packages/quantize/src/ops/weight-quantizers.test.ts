import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float16ToFloat32, float32ToFloat16, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@shrink/core';
import { createSession } from '@shrink/core/runtime';
import { lcgValues } from '../test-data.fixture.js';
import { dequantizeBlockwise, quantizeBlockwise, zeroPointBytes, type BlockwiseWeights, type GridBits } from './nbits-blocks.js';
import { WEIGHT_QUANTIZERS } from './weight-quantizers.js';
import { correlatedActivations, gaussianMatrix, gram } from './weight-quantizers.fixture.js';

/** One MatMulNBits over `w` in onnxruntime-node vs A @ dequantize(w) in float64: max |error| / max |reference|. */
async function ortError(w: BlockwiseWeights, float16 = false): Promise<number> {
  const { K, N } = w;
  const M = 5;
  const a = lcgValues(M * K, 3);
  const ft = float16 ? 'float16' : 'float32';
  const float = (name: string, dims: number[], data: Float32Array) =>
    float16 ? makeTensor(name, 'float16', dims, float32ToFloat16(data)) : makeTensor(name, 'float32', dims, data);
  const round = (x: Float32Array) => (float16 ? float16ToFloat32(float32ToFloat16(x)) : x);
  const inits = [makeTensor('B', 'uint8', [N, w.nBlocks, w.blobSize], w.packed), float('scales', [N, w.nBlocks], w.scales)];
  const inputs = ['A', 'B', 'scales'];
  if (w.zeroPoints instanceof Float32Array) {
    inits.push(float('zp', [N, w.nBlocks], w.zeroPoints));
    inputs.push('zp');
  } else if (w.zeroPoints) {
    inits.push(makeTensor('zp', 'uint8', [N, zeroPointBytes(w.nBlocks, w.bits)], w.zeroPoints));
    inputs.push('zp');
  }
  const node = makeNode('MatMulNBits', inputs, ['Y'], { K, N, bits: w.bits, block_size: w.blockSize }, { domain: 'com.microsoft' });
  const model = makeModel(
    makeGraph({ nodes: [node], inputs: [makeValueInfo('A', ft, [M, K])], outputs: [makeValueInfo('Y', ft, [M, N])], initializers: inits }),
  );
  const session = await createSession(model);
  try {
    const feed = float16 ? { data: float32ToFloat16(a), dims: [M, K], type: 'float16' as const } : { data: a, dims: [M, K] };
    const out = (await session.run({ A: feed }))['Y']!;
    const y = float16 ? float16ToFloat32(out.data as Uint16Array) : (out.data as Float32Array);
    const zp = w.zeroPoints instanceof Float32Array ? { zeroPoints: round(w.zeroPoints) } : {};
    const deq = dequantizeBlockwise({ ...w, scales: round(w.scales), ...zp });
    const ar = round(a);
    let err = 0;
    let peak = 0;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let r = 0;
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

test('2-bit codes pack four per byte, lowest bits first; symmetric 2-bit uses codes 0..3 around 2 (known answer)', () => {
  // One block of 16: -2..1 repeated; the largest magnitude -2 sets scale 1, codes x + 2.
  const b = Float32Array.from({ length: 16 }, (_, k) => (k % 4) - 2);
  const w = quantizeBlockwise(b, 16, 1, { bits: 2, blockSize: 16, symmetric: true });
  assert.equal(w.bits, 2);
  assert.equal(w.blobSize, 4);
  assert.deepEqual([...w.scales], [1]);
  assert.deepEqual([...w.packed], [0b11100100, 0b11100100, 0b11100100, 0b11100100]);
  assert.deepEqual([...dequantizeBlockwise(w)], [...b]);
});

test('3-bit grids sit in 4-bit codes: 8 levels (symmetric 4..11 around 8, asymmetric 0..7)', () => {
  const b = gaussianMatrix(64, 4, 3);
  const sym = quantizeBlockwise(b, 64, 4, { bits: 3, blockSize: 32, symmetric: true });
  const asym = quantizeBlockwise(b, 64, 4, { bits: 3, blockSize: 32, symmetric: false });
  assert.equal(sym.bits, 4);
  assert.equal(sym.gridBits, 3);
  const codes = (w: BlockwiseWeights) => new Set([...w.packed].flatMap((x) => [x & 15, x >> 4]));
  assert.ok([...codes(sym)].every((c) => c >= 4 && c <= 11));
  assert.ok([...codes(asym)].every((c) => c <= 7));
  assert.ok([...asym.zeroPoints!].flatMap((x) => [x & 15, x >> 4]).every((z) => z <= 8)); // 8: spare nibble default
});

// K = 200: every block size leaves a partial last block.
const K = 200;
const N = 24;
const x = correlatedActivations(512, gaussianMatrix(6, K, 1, 2), 6, K, 2);
const hessian = gram(x, K);
for (const algo of ['rtn', 'gptq', 'hqq', 'kquant'] as const) {
  for (const bits of [2, 3, 4, 8] as GridBits[]) {
    test(`MatMulNBits in onnxruntime = MatMul with the TS-dequantized weights (${algo}, ${bits}-bit, blocks 32/128, symmetric and not), within 1e-5 relative`, async () => {
      const b = lcgValues(K * N, 7);
      for (const blockSize of [32, 128]) {
        for (const symmetric of [true, false]) {
          const w = WEIGHT_QUANTIZERS[algo](b, K, N, { bits, blockSize, symmetric }, { hessian });
          const e = await ortError(w);
          assert.ok(e < 1e-5, `block ${blockSize}, symmetric ${symmetric}: relative error ${e}`);
        }
      }
    });
  }
}

test('HQQ float zero points in float16 (q4f16) run in onnxruntime-node, within float16 rounding', async () => {
  const w = WEIGHT_QUANTIZERS.hqq(lcgValues(K * N, 8), K, N, { bits: 4, blockSize: 64, symmetric: false });
  assert.ok((await ortError(w, true)) < 3e-3);
});

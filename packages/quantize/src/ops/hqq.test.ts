import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantizeHqq } from './hqq.js';
import { dequantizeBlockwise, quantizeBlockwise } from './nbits-blocks.js';
import { gaussianMatrix, weightError } from './weight-quantizers.fixture.js';

// Gaussian weights [1024, 64]: HQQ's fitted float zero points vs round to nearest with an integer zero
// point over the range widened to 0. Measured relative squared weight error, RTN / HQQ: block 64
// 8.35e-3 / 7.58e-3 (-9 %), block 128 1.02e-2 / 9.56e-3 (-6 %). The test asks for 3 %.
const w = gaussianMatrix(1024, 64, 9, 0.02);
for (const blockSize of [64, 128]) {
  test(`HQQ reconstructs weights better than asymmetric RTN (4-bit, block ${blockSize}) by 3 %`, () => {
    const opts = { bits: 4 as const, blockSize, symmetric: false };
    const rtn = weightError(w, dequantizeBlockwise(quantizeBlockwise(w, 1024, 64, opts)));
    const hqq = weightError(w, dequantizeBlockwise(quantizeHqq(w, 1024, 64, opts)));
    assert.ok(hqq < 0.97 * rtn, `HQQ ${hqq.toExponential(3)} vs RTN ${rtn.toExponential(3)}`);
  });
}

test('HQQ zero points: float (code units) for 2/3/4-bit codes, uint8 codes for 8-bit; a flat block is exact', () => {
  const K = 80; // a partial last block of 16 at block 32
  const b = gaussianMatrix(K, 3, 4);
  for (let k = 0; k < 32; k++) b[k * 3 + 1] = 0.25; // column 1, block 0: flat
  for (const bits of [2, 3, 4] as const) {
    const q = quantizeHqq(b, K, 3, { bits, blockSize: 32, symmetric: true });
    assert.ok(q.zeroPoints instanceof Float32Array, `${bits}-bit`);
    assert.equal(q.zeroPoints.length, 3 * q.nBlocks);
    assert.equal(q.bits, bits === 3 ? 4 : bits);
    const deq = dequantizeBlockwise(q);
    for (let k = 0; k < 32; k++) assert.ok(Math.abs(deq[k * 3 + 1]! - 0.25) < 1e-6);
  }
  const q8 = quantizeHqq(b, K, 3, { bits: 8, blockSize: 32, symmetric: false });
  assert.ok(q8.zeroPoints instanceof Uint8Array);
  assert.ok(weightError(b, dequantizeBlockwise(q8)) < 1e-4);
});

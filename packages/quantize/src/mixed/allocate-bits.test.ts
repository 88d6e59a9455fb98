import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateBits, type BitsCandidate } from './allocate-bits.js';
import { bitLevels, relativeError } from './weight-sensitivity.js';
import { quantizeBlockwise } from '../ops/nbits-blocks.js';

const cand = (key: string, elements: number, e4: number, e8: number): BitsCandidate => ({
  key,
  label: key,
  elements,
  levels: [
    { bits: 4, storedBits: 4, bytes: elements / 2, error: e4 },
    { bits: 8, storedBits: 8, bytes: elements, error: e8 },
  ],
});

test('allocateBits: the largest error drop per bit is raised first, within the average', () => {
  // a: small and sensitive; b: large, as sensitive in total; c: tolerant.
  const cs = [cand('a', 100, 0.5, 0.01), cand('b', 1000, 0.5, 0.01), cand('c', 100, 0.01, 0.001)];
  const a = allocateBits(cs, { kind: 'bits', average: 4.5 });
  // Budget 0.5 * 1200 = 600 bit-elements: a (400) fits and is best; b (4000) does not; c (400) does not fit after a.
  assert.deepEqual(
    [...a.bits.entries()],
    [
      ['a', 8],
      ['b', 4],
      ['c', 4],
    ],
  );
  assert.deepEqual(a.upgraded, ['a']);
  assert.ok(Math.abs(a.averageBits - (8 * 100 + 4 * 1100) / 1200) < 1e-12);
  assert.ok(a.errorAfter < a.errorBefore);
  // At 8 bits on average everything is raised; at the floor nothing is.
  assert.ok([...allocateBits(cs, { kind: 'bits', average: 8 }).bits.values()].every((b) => b === 8));
  assert.ok([...allocateBits(cs, { kind: 'bits', average: 4 }).bits.values()].every((b) => b === 4));
});

test('allocateBits: a byte budget counts bytes, and a free step (3-bit grid in 4-bit codes) is always taken', () => {
  const three: BitsCandidate = {
    key: 't',
    label: 't',
    elements: 64,
    levels: [
      { bits: 3, storedBits: 4, bytes: 40, error: 0.2 },
      { bits: 4, storedBits: 4, bytes: 40, error: 0.05 },
      { bits: 8, storedBits: 8, bytes: 72, error: 0.001 },
    ],
  };
  const a = allocateBits([three, cand('x', 64, 0.05, 0.001)], { kind: 'bytes', bytes: 40 + 32 });
  assert.equal(a.bits.get('t'), 4);
  assert.equal(a.bits.get('x'), 4);
  assert.equal(a.bytes, 72);
  const b = allocateBits([three, cand('x', 64, 0.05, 0.001)], { kind: 'bytes', bytes: 40 + 64 });
  assert.equal(b.bytes, 104);
  assert.equal([...b.bits.values()].filter((v) => v === 8).length, 1);
});

test('bitLevels: the asked bits, then the widths onnxruntime runs above them', () => {
  assert.deepEqual(bitLevels(2), [2, 4, 8]);
  assert.deepEqual(bitLevels(3), [3, 4, 8]);
  assert.deepEqual(bitLevels(4), [4, 8]);
});

test('relativeError: rows of large activations weigh more', () => {
  const K = 32;
  const N = 4;
  // Row 0 holds an outlier that dominates its block's scale: the other rows' codes are coarse.
  const w = Float32Array.from({ length: K * N }, (_, i) => (i < N ? 8 : Math.sin(i) * 0.1));
  const q = quantizeBlockwise(w, K, N, { bits: 4, blockSize: 32, symmetric: true });
  const flat = relativeError(w, q);
  const onOutlier = new Float64Array(K).fill(1e-3);
  onOutlier[0] = 1;
  const offOutlier = new Float64Array(K).fill(1);
  offOutlier[0] = 1e-3;
  // The outlier row itself is exact at the grid's edge; the small rows carry the error.
  assert.ok(relativeError(w, q, onOutlier) < flat);
  assert.ok(relativeError(w, q, offOutlier) > flat);
  assert.ok(flat > 0 && flat < 1);
});

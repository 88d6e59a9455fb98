import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShrinkError } from '@shrink/core';
import { packInt4, unpackInt4, unpackUint4 } from './pack.js';

test('packInt4: low nibble first (known answers)', () => {
  assert.deepEqual([...packInt4([1, 2, 3, 4])], [0x21, 0x43]);
  assert.deepEqual([...packInt4([15, 0, 0, 15])], [0x0f, 0xf0]);
  // Signed codes are two's complement nibbles: -1 -> 0xf, -8 -> 0x8, 7 -> 0x7.
  assert.deepEqual([...packInt4([-1, -8, 7, 0])], [0x8f, 0x07]);
});

test('packInt4: odd counts pad the last high nibble', () => {
  assert.deepEqual([...packInt4([5])], [0x05]);
  assert.deepEqual([...packInt4([1, 2, 3])], [0x21, 0x03]);
  assert.deepEqual([...packInt4([1, 2, 3], 8)], [0x21, 0x83]);
  assert.equal(packInt4([]).length, 0);
});

test('int4 pack/unpack round trips (odd and even counts, signed and unsigned)', () => {
  for (const n of [1, 2, 7, 32, 33]) {
    const signed = Array.from({ length: n }, (_, i) => ((i * 7 + 3) % 16) - 8);
    assert.deepEqual([...unpackInt4(packInt4(signed), n)], signed, `int4 n=${n}`);
    const unsigned = Array.from({ length: n }, (_, i) => (i * 5 + 1) % 16);
    assert.deepEqual([...unpackUint4(packInt4(unsigned), n)], unsigned, `uint4 n=${n}`);
  }
});

test('packInt4 refuses codes outside 4 bits; unpack refuses short buffers', () => {
  assert.throws(
    () => packInt4([16]),
    (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT' && /code 0 is 16/.test(e.message),
  );
  assert.throws(() => packInt4([-9]), ShrinkError);
  assert.throws(() => packInt4([1.5]), ShrinkError);
  assert.throws(() => unpackUint4(new Uint8Array(1), 3), /3 4-bit codes need 2 bytes/);
});

import { ShrinkError } from '@shrink/core';

/**
 * Packs 4-bit codes two per byte, low nibble first: byte i = (c[2i] & 0xf) | (c[2i+1] << 4). This is
 * the order of ONNX INT4/UINT4 tensors and of onnxruntime's MatMulNBits blobs and zero points. Codes
 * may be signed (-8..7, stored as two's complement nibbles) or unsigned (0..15). An odd count leaves
 * the last high nibble as `pad`.
 */
export function packInt4(codes: ArrayLike<number>, pad = 0): Uint8Array {
  const out = new Uint8Array(Math.ceil(codes.length / 2));
  packInt4Into(codes, out, 0, pad);
  return out;
}

/** packInt4 writing into `out` from byte `offset` (which must be zeroed), for callers packing many blocks into one buffer. */
export function packInt4Into(codes: ArrayLike<number>, out: Uint8Array, offset = 0, pad = 0): void {
  checkNibble(pad, 'pad');
  if (offset + Math.ceil(codes.length / 2) > out.length) {
    throw new ShrinkError('INVALID_ARGUMENT', `packInt4: ${codes.length} codes at byte ${offset} overrun a ${out.length}-byte buffer`);
  }
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    checkNibble(c, `code ${i}`);
    out[offset + (i >> 1)]! |= (c & 0xf) << ((i & 1) * 4);
  }
  if (codes.length % 2 === 1) out[offset + (codes.length >> 1)]! |= (pad & 0xf) << 4;
}

/** Unsigned 4-bit code `i` of `packed` (low nibble first). */
export function nibbleAt(packed: Uint8Array, i: number): number {
  return (packed[i >> 1]! >> ((i & 1) * 4)) & 0xf;
}

/** The first `count` unsigned codes (0..15) of `packed`, low nibble first. */
export function unpackUint4(packed: Uint8Array, count: number): Uint8Array {
  checkCount(packed, count);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = nibbleAt(packed, i);
  return out;
}

/** The first `count` signed codes (-8..7, two's complement nibbles) of `packed`, low nibble first. */
export function unpackInt4(packed: Uint8Array, count: number): Int8Array {
  checkCount(packed, count);
  const out = new Int8Array(count);
  for (let i = 0; i < count; i++) {
    const n = nibbleAt(packed, i);
    out[i] = n >= 8 ? n - 16 : n;
  }
  return out;
}

function checkNibble(c: number, what: string): void {
  if (!Number.isInteger(c) || c < -8 || c > 15) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `packInt4: ${what} is ${c}; a 4-bit code must be an integer in -8..7 (int4) or 0..15 (uint4)`,
    );
  }
}

function checkCount(packed: Uint8Array, count: number): void {
  if (!Number.isInteger(count) || count < 0 || Math.ceil(count / 2) > packed.length) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `unpack: ${count} 4-bit codes need ${Math.ceil(count / 2)} bytes but ${packed.length} were given`,
    );
  }
}

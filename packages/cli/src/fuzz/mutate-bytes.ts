// Format-blind mutations: what a flaky download, a bad disk or a wrong `cat` does to a file.
import type { Rng } from '@shrink/core/data';

export type BytesMutation = { name: string; bytes: Uint8Array };

/** A prefix of the file (possibly empty). */
export function truncate(rng: Rng, b: Uint8Array): BytesMutation {
  const at = rng.int(b.length);
  return { name: `truncate at ${at}/${b.length}`, bytes: b.slice(0, at) };
}

/** 1-8 random bits flipped. */
export function bitFlip(rng: Rng, b: Uint8Array): BytesMutation {
  const out = b.slice();
  const n = 1 + rng.int(8);
  for (let i = 0; i < n && out.length > 0; i++) out[rng.int(out.length)]! ^= 1 << rng.int(8);
  return { name: `flip ${n} bit(s)`, bytes: out };
}

/** A run of bytes overwritten with random ones (a torn sector). */
export function overwrite(rng: Rng, b: Uint8Array): BytesMutation {
  const out = b.slice();
  const at = rng.int(Math.max(1, out.length));
  const len = 1 + rng.int(64);
  for (let i = at; i < Math.min(out.length, at + len); i++) out[i] = rng.int(256);
  return { name: `overwrite ${len} byte(s) at ${at}`, bytes: out };
}

/** The head of one file joined to the tail of another. */
export function splice(rng: Rng, a: Uint8Array, b: Uint8Array): BytesMutation {
  const i = rng.int(a.length + 1);
  const j = rng.int(b.length + 1);
  const out = new Uint8Array(i + (b.length - j));
  out.set(a.subarray(0, i));
  out.set(b.subarray(j), i);
  return { name: `splice ${i} head bytes + tail from ${j}`, bytes: out };
}

export function mutateBytes(rng: Rng, b: Uint8Array, other: Uint8Array): BytesMutation {
  switch (rng.int(4)) {
    case 0:
      return truncate(rng, b);
    case 1:
      return bitFlip(rng, b);
    case 2:
      return overwrite(rng, b);
    default:
      return splice(rng, b, other);
  }
}

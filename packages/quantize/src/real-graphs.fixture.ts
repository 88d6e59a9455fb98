// Test support for the real-graph tests (float16 sources, subgraphs, shared weights): run a model in
// onnxruntime and compare every output with a stated tolerance.
import assert from 'node:assert/strict';
import { encodeModel, type onnx } from '@shrink/core';
import { createSession, type FeedTensor } from '@shrink/core/runtime';

/** Every output of `model` on `feeds`, as float32 values. */
export async function runAll(model: onnx.IModelProto, feeds: Record<string, FeedTensor>): Promise<Record<string, Float32Array>> {
  const s = await createSession(encodeModel(model));
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Float32Array.from(v.data as ArrayLike<number>)]));
  } finally {
    await s.release();
  }
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Asserts every output of `got` has the shape of `want`'s and a cosine of at least `min` with it. */
export function assertCosine(got: Record<string, Float32Array>, want: Record<string, Float32Array>, min: number, what: string): void {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), `${what}: outputs`);
  for (const [k, w] of Object.entries(want)) {
    const g = got[k]!;
    assert.equal(g.length, w.length, `${what}: output '${k}' length`);
    const c = cosine(g, w);
    assert.ok(c >= min, `${what}: output '${k}' cosine ${c.toFixed(5)} < ${min}`);
  }
}

/** Encoded size in bytes. */
export const bytesOf = (m: onnx.IModelProto): number => encodeModel(m).byteLength;

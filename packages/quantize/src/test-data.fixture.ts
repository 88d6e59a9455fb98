// Test support shared by the pass tests: seeded weights and inputs, and the measures they are judged by.
import assert from 'node:assert/strict';
import { encodeModel, type onnx } from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import { createSession, evaluate, type Feeds } from '@shrink/core/runtime';

/** Deterministic values in [-scale, scale), from a 32-bit linear congruential generator. */
export function lcgValues(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * scale;
  });
}

/** ||got - want|| / ||want||: the relative L2 (equally, RMS) error against a reference output. */
export function relError(got: Float32Array, want: Float32Array): number {
  let e = 0;
  let r = 0;
  for (let i = 0; i < want.length; i++) {
    e += (got[i]! - want[i]!) ** 2;
    r += want[i]! ** 2;
  }
  return Math.sqrt(e / r);
}

/** Largest |got - want| over the largest |want|: the worst element's error against the output's scale. */
export function relMax(got: Float32Array, want: Float32Array): number {
  let e = 0;
  let r = 0;
  for (let i = 0; i < want.length; i++) {
    e = Math.max(e, Math.abs(got[i]! - want[i]!));
    r = Math.max(r, Math.abs(want[i]!));
  }
  return e / r;
}

/** Float32 output `output` of `model` run once in onnxruntime on `feeds`. */
export async function runOutput(model: onnx.IModelProto, feeds: Feeds, output = 'y'): Promise<Float32Array> {
  const s = await createSession(encodeModel(model));
  try {
    return (await s.run(feeds))[output]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Accuracy of `model` (run in onnxruntime) on a classification dataset. */
export async function accuracyOf(model: onnx.IModelProto, data: Dataset): Promise<number> {
  const s = await createSession(encodeModel(model));
  try {
    const r = await evaluate(s, data);
    assert.equal(r.task, 'classification');
    return r.task === 'classification' ? r.accuracy : NaN;
  } finally {
    await s.release();
  }
}

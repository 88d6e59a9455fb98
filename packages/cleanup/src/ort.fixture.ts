// Shared by cleanup's tests: run a model in onnxruntime and compare outputs element by element.
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { encodeModel, makeTensor, type DType, type onnx, type TensorData } from '@shrink/core';
import { mulberry32 } from '@shrink/core/data';

export interface OrtValue {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: ArrayLike<number | bigint>;
}

export type OrtFeeds = Readonly<Record<string, { data: TensorData; dims: readonly number[]; type?: 'bool' }>>;

/**
 * Every graph output of `model` on `feeds`. Graph optimizations are off by default, so the values are
 * what onnxruntime's kernels compute for the graph as written (its own constant folding would
 * otherwise compute the constants of the original model too). `prepack: false` also turns off the
 * kernels' repacking of constant weights (a MatMul whose B is an initializer sums in another order
 * than one whose B is computed).
 */
export async function runOrt(
  model: onnx.IModelProto,
  feeds: OrtFeeds = {},
  opts: { level?: 'disabled' | 'all'; prepack?: boolean } = {},
): Promise<Record<string, OrtValue>> {
  const session = await ort.InferenceSession.create(encodeModel(model), {
    graphOptimizationLevel: opts.level ?? 'disabled',
    intraOpNumThreads: 1,
    logSeverityLevel: 3,
    ...(opts.prepack === false ? { extra: { session: { disable_prepacking: '1' } } } : {}),
  });
  try {
    const out = await session.run(
      Object.fromEntries(
        Object.entries(feeds).map(([k, v]) => [
          k,
          v.type ? new ort.Tensor(v.type, v.data as Uint8Array, [...v.dims]) : new ort.Tensor(v.data, [...v.dims]),
        ]),
      ),
    );
    return Object.fromEntries(
      Object.entries(out).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: t.data as ArrayLike<number | bigint> }]),
    );
  } finally {
    await session.release();
  }
}

const same = (a: number | bigint, b: number | bigint) =>
  Object.is(a, b) || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));

/**
 * The two output sets name the same outputs with the same types and dims, and equal values: bit for bit
 * (NaN payloads aside, +0 and -0 told apart) without `relTol`, else within `relTol` of the larger
 * magnitude (absolute below 1e-30). Returns the largest relative difference seen.
 */
export function assertSameOutputs(a: Record<string, OrtValue>, b: Record<string, OrtValue>, relTol?: number): number {
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  let worst = 0;
  for (const [k, x] of Object.entries(a)) {
    const y = b[k]!;
    assert.equal(y.type, x.type, `${k}: type`);
    assert.deepEqual(y.dims, x.dims, `${k}: dims`);
    assert.equal(y.data.length, x.data.length, `${k}: length`);
    for (let i = 0; i < x.data.length; i++) {
      const p = x.data[i]!;
      const q = y.data[i]!;
      if (same(p, q)) continue;
      assert.ok(relTol !== undefined && typeof p === 'number' && typeof q === 'number', `${k}[${i}]: ${String(p)} vs ${String(q)}`);
      const rel = Math.abs(p - q) / Math.max(Math.abs(p), Math.abs(q), 1e-30);
      worst = Math.max(worst, rel);
      assert.ok(rel <= relTol, `${k}[${i}]: ${p} vs ${q} (relative ${rel.toExponential(2)} > ${relTol})`);
    }
  }
  return worst;
}

/** Seeded floats in [-1, 1) (core's mulberry32), so cases are the same every run. */
export function seededFloats(seed: number): (n: number) => number[] {
  const next = mulberry32(seed);
  return (n) => Array.from({ length: n }, () => next() * 2 - 1);
}

/** A named constant for test graphs. */
export function tensor(name: string, dtype: DType, dims: readonly number[], data: TensorData | readonly number[]): onnx.TensorProto {
  return makeTensor(name, dtype, dims, data);
}

/**
 * Baseline and candidate in onnxruntime-web (wasm, one thread) in this page: every output compared by
 * cosine over all samples, and latency timed interleaved (a b, b a, …) so neither model always runs second.
 * Samples are core's synthetic feeds (ids within the vocabulary, masks of ones, state of zeros, seeded
 * uniform values), or the inputs of a dropped feeds file (.npz, .npy, JSON keyed by input name).
 */
import * as ort from 'onnxruntime-web/wasm';
import { cosine, decodeModel, float16ToFloat32, Graph, ShrinkError } from '@shrink/core';
import { syntheticFeedSet } from '../../../core/src/runtime/synthetic-feeds.js';
import type { ValueMeta } from '../../../core/src/runtime/session.js';
import { readFeedsFile, type NamedFeeds } from './feeds-file.js';

export interface MeasureOptions {
  /** Where onnxruntime-web's .wasm is, unless `wasmBinary` is given (its JS glue is in the bundle). */
  readonly wasmUrl?: string;
  readonly wasmBinary?: ArrayBuffer;
  readonly runs?: number;
  readonly budgetMs?: number;
  readonly feedsFile?: File;
  readonly onProgress?: (label: string) => void;
}

export interface MeasureResult {
  readonly runtime: string;
  readonly samples: string;
  /** Per output of the baseline: cosine of the candidate's values to the baseline's, over every sample. */
  readonly cosine: Record<string, number>;
  readonly maxAbsError: number;
  readonly baselineMs: { p50: number; p90: number };
  readonly candidateMs: { p50: number; p90: number };
  /** Median of the per-round candidate/baseline ratios. */
  readonly ratio: number;
  readonly rounds: number;
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
};

function asFloat(t: ort.Tensor): Float64Array | Float32Array {
  const d = t.data;
  if (t.type === 'float16' && d instanceof Uint16Array) return float16ToFloat32(d);
  if (d instanceof Float32Array || d instanceof Float64Array) return d;
  return Float64Array.from(d as ArrayLike<number | bigint>, Number);
}

let configured = false;

function configure(o: MeasureOptions): void {
  if (configured) return;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  if (o.wasmBinary) ort.env.wasm.wasmBinary = o.wasmBinary;
  else if (o.wasmUrl) ort.env.wasm.wasmPaths = { wasm: o.wasmUrl };
  configured = true;
}

/** The model's inputs as core's synthetic feeds read them (name, type, shape). */
function inputsOf(bytes: Uint8Array): { metas: ValueMeta[]; model: ReturnType<typeof decodeModel> } {
  const model = decodeModel(bytes, 'baseline');
  const g = Graph.from(model);
  const metas = g.feedInputs.map((v) => {
    const name = v.name ?? '';
    const shape = (g.shapeOf(name) ?? []).map((d) => (d === null || d === undefined ? '' : d));
    return { name, isTensor: true, type: (g.dtypeOf(name) ?? 'float32') as ValueMeta['type'], shape };
  });
  return { metas, model };
}

function toOrt(feeds: NamedFeeds): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    out[name] = new ort.Tensor(t.type as ort.Tensor.Type, t.data as ort.Tensor.DataType, [...t.dims]);
  }
  return out;
}

export async function measurePair(baseline: Uint8Array, candidate: Uint8Array, o: MeasureOptions = {}): Promise<MeasureResult> {
  configure(o);
  const say = o.onProgress ?? (() => undefined);
  say('loading onnxruntime-web');
  const { metas, model } = inputsOf(baseline);
  let samples: NamedFeeds[];
  let described: string;
  if (o.feedsFile) {
    samples = await readFeedsFile(o.feedsFile, metas);
    described = `${samples.length} sample(s) from ${o.feedsFile.name}`;
  } else {
    const set = syntheticFeedSet({ inputs: metas } as unknown as Parameters<typeof syntheticFeedSet>[0], model, { count: 8 });
    samples = set.samples as NamedFeeds[];
    described = set.name;
  }
  const opts: ort.InferenceSession.SessionOptions = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  const a = await ort.InferenceSession.create(baseline, opts);
  const b = await ort.InferenceSession.create(candidate, opts);
  try {
    say('comparing outputs');
    const parts = new Map<string, { x: number[][]; y: number[][] }>();
    let maxAbs = 0;
    for (const s of samples) {
      const feeds = toOrt(s);
      const ra = await a.run(feeds);
      const rb = await b.run(feeds);
      for (const name of a.outputNames) {
        const ta = ra[name];
        const tb = rb[name] ?? rb[b.outputNames[a.outputNames.indexOf(name)] ?? ''];
        if (!ta || !tb) throw new ShrinkError('RUNTIME', `the compressed model has no output '${name}'`);
        const fa = asFloat(ta);
        const fb = asFloat(tb);
        if (fa.length !== fb.length)
          throw new ShrinkError('RUNTIME', `output '${name}' has ${fb.length} values, the original ${fa.length}`);
        const p = parts.get(name) ?? { x: [], y: [] };
        p.x.push(Array.from(fa));
        p.y.push(Array.from(fb));
        parts.set(name, p);
        for (let i = 0; i < fa.length; i++) maxAbs = Math.max(maxAbs, Math.abs(fa[i]! - fb[i]!));
      }
    }
    const cos: Record<string, number> = {};
    for (const [name, p] of parts) cos[name] = cosine(Float64Array.from(p.x.flat()), Float64Array.from(p.y.flat()));

    say('timing (interleaved)');
    const feeds = samples.map(toOrt);
    for (let w = 0; w < 3; w++) for (const s of [a, b]) await s.run(feeds[w % feeds.length]!);
    const ta: number[] = [];
    const tb: number[] = [];
    const ratios: number[] = [];
    const runs = o.runs ?? 30;
    const stop = performance.now() + (o.budgetMs ?? 15_000);
    for (let r = 0; r < runs && performance.now() < stop; r++) {
      const f = feeds[r % feeds.length]!;
      const order = r % 2 === 0 ? ([a, b] as const) : ([b, a] as const);
      const times = new Map<ort.InferenceSession, number>();
      for (const s of order) {
        const t0 = performance.now();
        await s.run(f);
        times.set(s, performance.now() - t0);
      }
      ta.push(times.get(a)!);
      tb.push(times.get(b)!);
      ratios.push(times.get(b)! / Math.max(times.get(a)!, 1e-3));
    }
    return {
      runtime: `onnxruntime-web ${ort.env.versions.web ?? ''} wasm, 1 thread`,
      samples: described,
      cosine: cos,
      maxAbsError: maxAbs,
      baselineMs: { p50: quantile(ta, 0.5), p90: quantile(ta, 0.9) },
      candidateMs: { p50: quantile(tb, 0.5), p90: quantile(tb, 0.9) },
      ratio: quantile(ratios, 0.5),
      rounds: ta.length,
    };
  } finally {
    await a.release();
    await b.release();
  }
}

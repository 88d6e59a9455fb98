/**
 * The page Chromium loads: onnxruntime-web from the local server and one function, `shrinkRun`, that
 * fetches the models and samples, runs every sample through every model (outputs POSTed back as raw
 * bytes, so large tensors never pass through the DevTools protocol as JSON), then times the models
 * interleaved.
 *
 * It is plain JavaScript text rather than a TypeScript function handed to page.evaluate: the CLI is
 * compiled without the DOM library, and the code must run as a module beside `import * as ort`.
 */

/** What the page's `shrinkRun` takes (structured-cloned by playwright). */
export interface PageArgs {
  readonly backend: 'wasm' | 'webgpu';
  readonly threads: number;
  readonly models: number;
  /** Per sample, its tensors' names, types and dims; the bytes are at /sample/<s>/<index in this list>. */
  readonly samples: ReadonlyArray<ReadonlyArray<{ name: string; type: string; dims: number[] }>>;
  readonly warmup: number;
  readonly runs: number;
  /** Milliseconds the timed loop may take (it stops early, keeping the runs done). */
  readonly timingBudgetMs: number;
}

/** What `shrinkRun` returns; outputs themselves arrive at the server as POST /output/<m>/<s>/<k>. */
export type PageResult =
  | { available: false; reason: string; model?: number; modelError?: string }
  | {
      available: true;
      runtime: string;
      adapter?: string;
      /** Per model, per sample, the outputs' names, types and dims in the order they were POSTed. */
      outputs: Array<Array<Array<{ name: string; type: string; dims: number[] }>>>;
      /** Per model, the timed runs' milliseconds (each the mean of `repeat` back-to-back runs). */
      times: number[][];
      repeat: number;
    };

export function pageHtml(ortBundle: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>shrink: onnxruntime-web</title></head>
<body><script type="module">
import * as ort from '/ort/${ortBundle}';

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  bool: Uint8Array, float16: Uint16Array,
};

async function bytesOf(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
  return r.arrayBuffer();
}

function tensorOf(spec, buffer) {
  let data;
  if (spec.type === 'float16' && typeof Float16Array === 'function') data = new Float16Array(buffer);
  else {
    const C = ARRAYS[spec.type];
    if (C === undefined) throw new Error("input type '" + spec.type + "' is not supported here");
    data = new C(buffer);
  }
  return new ort.Tensor(spec.type, data, spec.dims);
}

function adapterName(info) {
  if (!info) return 'an adapter';
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((x) => x);
  return parts.join(' ') + (info.isFallbackAdapter ? ' (fallback adapter)' : '');
}

globalThis.shrinkRun = async (a) => {
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = a.threads;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  let adapter;
  if (a.backend === 'webgpu') {
    if (!navigator.gpu) return { available: false, reason: 'this Chromium exposes no WebGPU (navigator.gpu is undefined)' };
    const ad = await navigator.gpu.requestAdapter();
    if (!ad) return { available: false, reason: 'Chromium offers no WebGPU adapter (navigator.gpu.requestAdapter() returned null)' };
    adapter = adapterName(ad.info);
    // The adapter found here is the one onnxruntime-web uses (it would otherwise ask again, with its own options).
    ort.env.webgpu.adapter = ad;
  }
  const feeds = [];
  for (let s = 0; s < a.samples.length; s++) {
    const f = {};
    for (let k = 0; k < a.samples[s].length; k++) {
      const spec = a.samples[s][k];
      f[spec.name] = tensorOf(spec, await bytesOf('/sample/' + s + '/' + k));
    }
    feeds.push(f);
  }
  const sessions = [];
  try {
    for (let m = 0; m < a.models; m++) {
      const bytes = new Uint8Array(await bytesOf('/model/' + m));
      try {
        sessions.push(await ort.InferenceSession.create(bytes, { executionProviders: [a.backend], graphOptimizationLevel: 'all' }));
      } catch (e) {
        return { available: false, reason: 'onnxruntime-web could not load', model: m, modelError: String(e && e.message || e) };
      }
    }
    const outputs = [];
    for (let m = 0; m < sessions.length; m++) {
      const perSample = [];
      for (let s = 0; s < feeds.length; s++) {
        let r;
        try {
          r = await sessions[m].run(feeds[s]);
        } catch (e) {
          return { available: false, reason: 'onnxruntime-web could not run', model: m, modelError: String(e && e.message || e) };
        }
        const specs = [];
        for (const name of sessions[m].outputNames) {
          const t = r[name];
          const data = await t.getData();
          const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
          const res = await fetch('/output/' + m + '/' + s + '/' + specs.length, { method: 'POST', body });
          if (!res.ok) throw new Error('posting an output: HTTP ' + res.status);
          specs.push({ name, type: t.type, dims: Array.from(t.dims) });
        }
        perSample.push(specs);
      }
      outputs.push(perSample);
    }
    // Warm-up first, then rounds in alternating order (a b, b a, ...) so that neither model always runs
    // second, after the other has warmed or cooled the caches.
    for (let w = 0; w < a.warmup; w++) for (const s of sessions) await s.run(feeds[w % feeds.length]);
    // performance.now() ticks in 5 µs steps at best (100 µs without cross-origin isolation): a model that
    // runs in tens of µs is timed over several back-to-back runs per sample, the same count for every model.
    let fastest = Infinity;
    for (const s of sessions) {
      const t0 = performance.now();
      await s.run(feeds[0]);
      fastest = Math.min(fastest, performance.now() - t0);
    }
    const repeat = Math.max(1, Math.min(200, Math.ceil(1 / Math.max(fastest, 0.005))));
    const times = sessions.map(() => []);
    const stop = performance.now() + a.timingBudgetMs;
    for (let r = 0; r < a.runs && performance.now() < stop; r++) {
      const order = sessions.map((_, i) => (r % 2 === 0 ? i : sessions.length - 1 - i));
      for (const m of order) {
        const f = feeds[r % feeds.length];
        const t0 = performance.now();
        for (let k = 0; k < repeat; k++) await sessions[m].run(f);
        times[m].push((performance.now() - t0) / repeat);
      }
    }
    return { available: true, runtime: 'onnxruntime-web ' + (ort.env.versions.web ?? '?') + ' ' + a.backend, adapter, outputs, times, repeat };
  } finally {
    for (const s of sessions) await s.release();
  }
};
globalThis.shrinkReady = true;
</script></body></html>
`;
}

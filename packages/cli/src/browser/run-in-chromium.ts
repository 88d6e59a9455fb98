/**
 * Runs ONNX models in a real Chromium with onnxruntime-web (its wasm or webgpu bundle), so a `--target
 * wasm|webgpu` candidate is checked where it will run rather than in onnxruntime-web under Node.
 *
 * Everything the page loads comes from a local server on 127.0.0.1 (see local-server.ts); any other
 * request is aborted and recorded. The browser is Debian's chromium (SHRINK_CHROMIUM overrides), driven
 * by playwright-core, which downloads nothing. Anything that keeps the models from running (no browser,
 * no WebGPU adapter, a launch failure, the time budget) comes back as `{ available: false, reason }`,
 * never as an exception: the caller reports it as "not verified".
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { TensorData } from '@shrink/core';
import type { Browser } from 'playwright-core';
import { startLocalServer, type LocalServer } from './local-server.js';
import { pageHtml, type PageArgs, type PageResult } from './page-script.js';

/** A tensor as plain data: `type` is onnxruntime's name ('float32', 'int64', …); float16 data is raw bits (Uint16Array). */
export interface BrowserTensor {
  readonly type: string;
  readonly data: TensorData;
  readonly dims: readonly number[];
}

export interface BrowserModel {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export type BrowserBackend = 'wasm' | 'webgpu';

export interface RunInChromiumOptions {
  readonly backend: BrowserBackend;
  /** Timed runs per model after warm-up (20); fewer when the time budget runs out. */
  readonly runs?: number;
  /** Warm-up runs per model (3). */
  readonly warmup?: number;
  /** The whole call's budget, launch to close (60 s). */
  readonly timeoutMs?: number;
  /** wasm threads (1: what a page without cross-origin isolation gets). */
  readonly threads?: number;
}

export interface ChromiumModelRun {
  readonly name: string;
  /** Per sample, every output by name. */
  readonly outputs: Array<Record<string, BrowserTensor>>;
  /**
   * Median over `runs` interleaved rounds; a model that runs in under 1 ms is timed over `repeat`
   * back-to-back runs per round (the browser's clock ticks in 5 µs steps), each round's time divided by it.
   */
  readonly latencyMs: { readonly p50: number; readonly runs: number; readonly repeat: number };
}

export type ChromiumRun =
  | {
      readonly available: false;
      /** One sentence: why the models did not run. */
      readonly reason: string;
      /** When a model itself failed in onnxruntime-web (load or run): its name. */
      readonly failedModel?: string;
    }
  | {
      readonly available: true;
      /** "Chromium 150.0.7871.100" */
      readonly browser: string;
      /** "onnxruntime-web 1.30.0 wasm" */
      readonly runtime: string;
      /** The WebGPU adapter, as the browser describes it. */
      readonly adapter?: string;
      readonly models: ChromiumModelRun[];
      /** Requests the page made to anywhere but the local server (all aborted); empty when nothing tried. */
      readonly offOrigin: string[];
    };

/** The chromium binary: SHRINK_CHROMIUM, else Debian's. */
export function chromiumPath(): string {
  return process.env['SHRINK_CHROMIUM'] ?? '/usr/bin/chromium';
}

/**
 * Flags that give headless Chromium a WebGPU adapter with no GPU: SwiftShader's Vulkan, which ships with
 * Chromium. On a machine with a GPU, the real adapter is found without them but they do no harm.
 */
export const WEBGPU_FLAGS: readonly string[] = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

const BUNDLE: Readonly<Record<BrowserBackend, string>> = {
  // The wasm-only bundle (`onnxruntime-web/wasm`): the same kernels as the default bundle's wasm backend.
  wasm: 'ort.wasm.min.mjs',
  webgpu: 'ort.webgpu.min.mjs',
};

/** onnxruntime-web's dist folder, through one of the files its package exports. */
function ortDistDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
}

interface ArrayOf {
  new (b: ArrayBuffer, offset: number, length: number): TensorData;
  readonly BYTES_PER_ELEMENT: number;
}

const ELEMENT: Readonly<Record<string, ArrayOf>> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  float16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
};

function typeOfData(data: TensorData): string {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'uint64';
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorFrom(type: string, dims: number[], bytes: Uint8Array): BrowserTensor {
  const C = ELEMENT[type];
  if (C === undefined) throw new Error(`output type '${type}' is not supported`);
  if (bytes.byteLength % C.BYTES_PER_ELEMENT !== 0) throw new Error(`output of type '${type}' arrived as ${bytes.byteLength} bytes`);
  // The server's copy owns its buffer from offset 0, so any element size aligns.
  return { type, dims, data: new C(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / C.BYTES_PER_ELEMENT) };
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  // playwright appends a call log after the first line; the first line says what happened.
  return text.split('\n')[0]!.trim();
}

class Timeout extends Error {}

/**
 * Runs every sample through every model in one Chromium page, then times the models interleaved.
 * Outputs are onnxruntime-web's own, per sample, in the order the samples were given.
 */
export async function runInChromium(
  models: readonly BrowserModel[],
  samples: ReadonlyArray<Readonly<Record<string, { type?: string; data: TensorData; dims: readonly number[] }>>>,
  opts: RunInChromiumOptions,
): Promise<ChromiumRun> {
  const exe = chromiumPath();
  if (!existsSync(exe)) {
    return { available: false, reason: `no Chromium at ${exe} (install Debian's chromium or set SHRINK_CHROMIUM)` };
  }
  if (models.length === 0 || samples.length === 0) return { available: false, reason: 'nothing to run: no models or no samples' };
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const runs = opts.runs ?? 20;
  const warmup = opts.warmup ?? 3;
  const threads = opts.threads ?? 1;
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());

  const specs = samples.map((s) => Object.entries(s).map(([name, t]) => ({ name, type: t.type ?? typeOfData(t.data), dims: [...t.dims] })));
  let server: LocalServer | undefined;
  let browser: Browser | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stage = 'starting';
  // Set when the budget ran out: work still under way closes what it opens from then on.
  let cancelled = false;
  const work = async (): Promise<ChromiumRun> => {
    server = await startLocalServer({
      html: pageHtml(BUNDLE[opts.backend]),
      ortDir: ortDistDir(),
      models: models.map((m) => m.bytes),
      samples: samples.map((s) => Object.values(s).map((t) => bytesOf(t.data))),
    });
    if (cancelled) {
      await server.close();
      throw new Timeout();
    }
    stage = 'launching Chromium';
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: exe,
      timeout: left(),
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-default-apps',
        '--no-first-run',
        ...(opts.backend === 'webgpu' ? WEBGPU_FLAGS : ['--disable-gpu']),
      ],
    });
    if (cancelled) {
      await browser.close();
      throw new Timeout();
    }
    const version = browser.version();
    const page = await browser.newPage();
    const origin = server.origin;
    const offOrigin: string[] = [];
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (url === origin || url.startsWith(`${origin}/`)) await route.continue();
      else {
        offOrigin.push(url);
        await route.abort('blockedbyclient');
      }
    });
    stage = 'loading onnxruntime-web in the page';
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: left() });
    await page.waitForFunction('globalThis.shrinkReady === true', undefined, { timeout: left() }).catch((e: unknown) => {
      throw new Error(`the page did not load onnxruntime-web${pageErrors.length ? `: ${pageErrors[0]}` : ''} (${message(e)})`);
    });
    stage = 'running the models';
    const args: PageArgs = {
      backend: opts.backend,
      threads,
      models: models.length,
      samples: specs,
      warmup,
      runs,
      // What is left, less a margin for collecting the outputs and closing the browser.
      timingBudgetMs: Math.max(0, Math.min(left() * 0.5, left() - 5_000)),
    };
    const r = await page.evaluate(
      (a: PageArgs) => (globalThis as unknown as { shrinkRun: (a: PageArgs) => Promise<PageResult> }).shrinkRun(a),
      args,
    );
    if (!r.available) {
      if (r.model === undefined) return { available: false, reason: r.reason };
      const name = models[r.model]!.name;
      return { available: false, reason: `${r.reason} '${name}' in Chromium: ${r.modelError ?? 'no message'}`, failedModel: name };
    }
    const posted = server.posted;
    const out: ChromiumModelRun[] = models.map((m, mi) => ({
      name: m.name,
      outputs: r.outputs[mi]!.map((perSample, si) =>
        Object.fromEntries(
          perSample.map((o, k) => {
            const bytes = posted.get(`/output/${mi}/${si}/${k}`);
            if (bytes === undefined) throw new Error(`output '${o.name}' of '${m.name}' on sample ${si} never arrived`);
            return [o.name, tensorFrom(o.type, o.dims, bytes)];
          }),
        ),
      ),
      latencyMs: { p50: median(r.times[mi]!), runs: r.times[mi]!.length, repeat: r.repeat },
    }));
    return {
      available: true,
      browser: `Chromium ${version}`,
      runtime: r.runtime,
      ...(r.adapter !== undefined ? { adapter: r.adapter } : {}),
      models: out,
      offOrigin,
    };
  };
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout()), timeoutMs);
  });
  try {
    return await Promise.race([work(), expired]);
  } catch (e) {
    // Playwright's own waits are given what is left of the budget, so they can fire a moment before
    // the outer timer: once the deadline has passed, the budget is the cause whatever threw.
    if (e instanceof Timeout || Date.now() >= deadline - 5)
      return { available: false, reason: `Chromium did not finish within ${+(timeoutMs / 1000).toFixed(1)} s (${stage})` };
    return { available: false, reason: `Chromium failed while ${stage}: ${message(e)}` };
  } finally {
    cancelled = true;
    clearTimeout(timer);
    // Closing the browser also ends a page.evaluate still pending after a timeout.
    await browser?.close().catch(() => undefined);
    await server?.close();
  }
}

/**
 * What the built site loads only when first needed, as classic scripts so that it also works from file://
 * (Chrome loads no module script, worker or fetch from a file:// page): the pass worker's source (run
 * from a blob: URL), onnxruntime-web with the measurement code, and @tensorflow/tfjs with the tfjs folder
 * conversion. lazy-dev.ts replaces this under `vite`.
 */
import type * as Measure from './measure/ort-measure.js';
import type * as TfjsFolder from './tfjs-folder.js';

declare global {
  var shrinkWorkerSource: string | undefined;
  var shrinkMeasure: typeof Measure | undefined;
  var shrinkOrtWasm: string | undefined;
  var shrinkTfjs: typeof TfjsFolder | undefined;
}

const loaded = new Map<string, Promise<void>>();

function script(src: string): Promise<void> {
  let p = loaded.get(src);
  if (!p) {
    p = new Promise<void>((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = () => resolve();
      s.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.append(s);
    });
    loaded.set(src, p);
  }
  return p;
}

let workerUrl: string | undefined;

export async function createPassWorker(): Promise<Worker> {
  if (workerUrl === undefined) {
    await script('./assets/worker-source.js');
    workerUrl = URL.createObjectURL(new Blob([globalThis.shrinkWorkerSource ?? ''], { type: 'text/javascript' }));
  }
  return new Worker(workerUrl);
}

/** onnxruntime-web and the measurement code; its .wasm is fetched beside the page, or (file://) read from a script. */
export async function loadMeasure(): Promise<{ measure: typeof Measure; wasm: { wasmUrl?: string; wasmBinary?: ArrayBuffer } }> {
  await script('./assets/measure.js');
  const measure = globalThis.shrinkMeasure!;
  if (location.protocol !== 'file:')
    return { measure, wasm: { wasmUrl: new URL('./ort/ort-wasm-simd-threaded.wasm', location.href).href } };
  await script('./ort/ort-wasm-binary.js');
  const b64 = globalThis.shrinkOrtWasm ?? '';
  const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return { measure, wasm: { wasmBinary: bin.buffer } };
}

/** @tensorflow/tfjs and core's exportToOnnx, loaded when a tfjs folder is first opened. */
export async function loadTfjs(): Promise<typeof TfjsFolder> {
  await script('./assets/tfjs.js');
  return globalThis.shrinkTfjs!;
}

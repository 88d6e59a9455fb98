// `vite` (the dev server): the worker and the measurement code as modules, onnxruntime-web's .wasm from its package.
import type { loadMeasure as LoadMeasure, loadTfjs as LoadTfjs } from './lazy.js';

export async function createPassWorker(): Promise<Worker> {
  return new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
}

export const loadMeasure: typeof LoadMeasure = async () => ({
  measure: await import('./measure/ort-measure.js'),
  wasm: { wasmUrl: new URL('/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm', location.href).href },
});

export const loadTfjs: typeof LoadTfjs = () => import('./tfjs-folder.js');

import { createRequire } from 'node:module';
import path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import type { Ctx } from '../context.js';
import { loggerOf } from '../context.js';
import { ShrinkError } from '../errors.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';
export type TfPreference = 'node' | 'wasm' | 'cpu';

export interface TfHandle {
  tf: typeof tfjs;
  backend: TfBackendName;
  /** One line saying which backend runs and why, for logs and reports. */
  note: string;
}

// tfjs keeps its engine and backend registry per process, so registering a backend is per process
// too; these memos only make repeated initTf calls cheap and side-effect free.
let tfModule: Promise<typeof tfjs> | undefined;
let nodeRegistered: Promise<boolean> | undefined;
let wasmRegistered: Promise<string | undefined> | undefined;

function loadTf(): Promise<typeof tfjs> {
  return (tfModule ??= import('@tensorflow/tfjs'));
}

/** tfjs-node is optional (it needs a native libtensorflow); a failed import just means "not here". */
function registerNode(): Promise<boolean> {
  const name = '@tensorflow/tfjs-node';
  return (nodeRegistered ??= import(name).then(
    () => true,
    () => false,
  ));
}

/**
 * Registers the wasm backend with its .wasm files taken from the installed package (no network):
 * in Node the backend would otherwise look for them beside the calling script. Resolves to an
 * error text when the package cannot be loaded.
 */
function registerWasm(): Promise<string | undefined> {
  return (wasmRegistered ??= (async () => {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(path.dirname(entry) + path.sep);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  })());
}

const ORDER: Record<TfPreference, readonly TfBackendName[]> = {
  node: ['tensorflow', 'wasm', 'cpu'],
  wasm: ['wasm', 'cpu'],
  cpu: ['cpu'],
};

/**
 * TensorFlow.js with the fastest backend available: tfjs-node (native) if installed, else wasm
 * (about 7.5x faster than cpu for training here), else the pure-JS cpu backend. `prefer` moves the
 * start of that list (e.g. 'cpu' for bit-exact comparisons with the reference kernels). Calling it
 * again is cheap; it switches backends only when the choice differs from the active one.
 */
export async function initTf(ctx?: Ctx, prefer: TfPreference = 'node'): Promise<TfHandle> {
  const tf = await loadTf();
  const skipped: string[] = [];
  for (const backend of ORDER[prefer]) {
    if (backend === 'tensorflow') {
      if (!(await registerNode()) || !tf.findBackendFactory('tensorflow')) {
        skipped.push('tfjs-node not installed');
        continue;
      }
    } else if (backend === 'wasm') {
      const err = await registerWasm();
      if (err !== undefined) {
        skipped.push(`wasm unavailable (${err})`);
        continue;
      }
    }
    // setBackend on the active backend is a no-op, and asking getBackend() first would make tfjs
    // initialise its highest-priority backend (trying webgl in Node) as a side effect.
    let ok: boolean;
    try {
      ok = await tf.setBackend(backend);
    } catch (e) {
      skipped.push(`${backend} failed (${(e as Error).message})`);
      continue;
    }
    if (!ok) {
      skipped.push(`${backend} failed to initialise`);
      continue;
    }
    await tf.ready();
    if (backend === 'wasm') registerWasmTrainingKernels(tf);
    const note = `tfjs ${tf.version.tfjs} on the ${backend} backend${skipped.length ? ` (${skipped.join('; ')})` : ''}`;
    loggerOf(ctx).debug(note);
    return { tf, backend, note };
  }
  throw new ShrinkError('RUNTIME', `no TensorFlow.js backend could start: ${skipped.join('; ')}`);
}

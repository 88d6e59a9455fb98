/**
 * Stripes quantized on worker threads, each reading its own bytes from the data file, so the CPU-bound
 * rounding of a large model uses the machine's cores while the main thread writes. Under tsx (sources,
 * no build) a worker starts from a bootstrap that registers tsx's loader, as the search's worker pool
 * does; where the worker script is not beside this module (a bundle that did not include it), or with 0
 * threads, stripes run in the calling thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ShrinkError, type ShrinkErrorCode } from '@shrink/core';
import { quantizeStripe, type StripeJob, type StripeResult } from './stripe-job.js';

function workerEntry(): URL | undefined {
  const self = import.meta.url;
  const ts = self.endsWith('.ts');
  const script = new URL(ts ? './stripe-worker.ts' : './stripe-worker.js', self);
  if (script.protocol !== 'file:' || !existsSync(fileURLToPath(script))) return undefined;
  if (!ts) return script;
  const code = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});\nregister();\nawait import(${JSON.stringify(script.href)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

export interface StripePool {
  /** Threads the stripes run on (0: the calling thread). */
  readonly threads: number;
  run(job: StripeJob): Promise<StripeResult>;
  close(): Promise<void>;
}

interface Pending {
  job: StripeJob;
  resolve(r: StripeResult): void;
  reject(e: unknown): void;
}

type Reply =
  { ready: true } | { id: number; result: StripeResult } | { id: number; error: { code?: unknown; message: string; stack?: string } };

/** A pool of `threads` workers (started now); jobs with bytes in memory run in the calling thread. */
export function stripePool(threads: number): StripePool {
  const entry = threads > 0 ? workerEntry() : undefined;
  if (!entry) {
    return {
      threads: 0,
      run: (job) => new Promise((resolve) => setImmediate(resolve)).then(() => quantizeStripe(job)),
      close: async () => undefined,
    };
  }
  const queue: Array<Pending & { id: number }> = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, Pending & { id: number }>();
  const all: Worker[] = [];
  let nextId = 0;
  let failed: Error | undefined;
  const pump = (): void => {
    while (idle.length > 0 && queue.length > 0) {
      const w = idle.pop()!;
      const p = queue.shift()!;
      busy.set(w, p);
      w.postMessage({ id: p.id, job: p.job });
    }
  };
  const fail = (e: Error): void => {
    failed ??= e;
    for (const p of [...queue.splice(0), ...busy.values()]) p.reject(e);
    busy.clear();
  };
  for (let i = 0; i < threads; i++) {
    const w = new Worker(entry);
    all.push(w);
    w.on('message', (m: Reply) => {
      if ('ready' in m) {
        idle.push(w);
        pump();
        return;
      }
      const p = busy.get(w);
      busy.delete(w);
      idle.push(w);
      if (p) {
        if ('error' in m) p.reject(rebuild(m.error));
        else p.resolve(m.result);
      }
      pump();
    });
    w.on('error', (e) => fail(e));
    w.on('exit', (code) => {
      if (code !== 0) fail(new Error(`a stripe worker exited with code ${code} (out of memory?)`));
    });
  }
  return {
    threads,
    run(job) {
      if ('bytes' in job.source) return new Promise((resolve) => setImmediate(resolve)).then(() => quantizeStripe(job));
      if (failed !== undefined) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        queue.push({ id: nextId++, job, resolve, reject });
        pump();
      });
    },
    async close() {
      failed ??= new Error('stripe pool closed');
      await Promise.all(all.map((w) => w.terminate()));
    },
  };
}

/** A worker's error as the error it was: a ShrinkError keeps its code, so the CLI exits as for any other. */
function rebuild(e: { code?: unknown; message: string; stack?: string }): Error {
  const err = typeof e.code === 'string' ? new ShrinkError(e.code as ShrinkErrorCode, e.message) : new Error(e.message);
  if (e.stack) err.stack = e.stack;
  return err;
}

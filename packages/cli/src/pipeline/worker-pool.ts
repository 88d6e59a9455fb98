/**
 * Runs search trials in worker threads. Under tsx (the sources, no build) a worker does not inherit the
 * TypeScript loader, so it starts from a small ESM bootstrap that registers tsx's loader and then imports
 * the .ts worker; from a build it starts the .js file directly.
 */
import { Worker } from 'node:worker_threads';
import { isShrinkError, ShrinkError, type Logger } from '@shrink/core';
import type { TrialJob, TrialOutcome, WorkerMessage, WorkerSetup } from './trial-worker.js';

function workerEntry(): URL {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new URL('./trial-worker.js', self);
  const target = new URL('./trial-worker.ts', self).href;
  const code = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});\nregister();\nawait import(${JSON.stringify(target)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** Runs every job on `workers` threads, each taking another when it finishes one; results in job order. */
export async function runTrialsInWorkers(jobs: readonly TrialJob[], workers: number, setup: WorkerSetup, log: Logger): Promise<TrialOutcome[]> {
  const results: TrialOutcome[] = new Array(jobs.length);
  const pending = jobs.map((_, i) => i);
  // A worker takes the trial sharing the most leading steps with its previous one, so a prefix it already
  // computed (see runSteps' memo) is reused instead of being computed again by another worker.
  const keys = jobs.map((j) => j.steps.map((s) => JSON.stringify(s)));
  const shared = (a: number, b: number) => {
    let n = 0;
    while (n < keys[a]!.length && keys[a]![n] === keys[b]![n]) n++;
    return n;
  };
  const take = (prev: number | undefined): number | undefined => {
    let at = 0;
    if (prev !== undefined) for (let k = 1; k < pending.length; k++) if (shared(prev, pending[k]!) > shared(prev, pending[at]!)) at = k;
    return pending.splice(at, 1)[0];
  };
  const entry = workerEntry();
  const one = (id: number) =>
    new Promise<void>((resolve, reject) => {
      let current: number | undefined;
      let previous: number | undefined;
      let t0 = 0;
      const w = new Worker(entry, { workerData: setup });
      const give = () => {
        current = take(previous);
        if (current === undefined) {
          void w.terminate().then(() => resolve());
          return;
        }
        previous = current;
        t0 = performance.now();
        log.info(`worker ${id}: trial ${jobs[current]!.name}`);
        w.postMessage(jobs[current]);
      };
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') give();
        else if (m.type === 'log') log[m.level](`worker ${id}: ${m.msg}`);
        else {
          results[current!] = m.outcome;
          give();
        }
      });
      // A crashed worker (a native abort, out of memory) fails its trial; a new worker takes the rest.
      // A worker that fails before its first trial (the model or data cannot load) would fail every one: stop.
      w.on('error', (e) => {
        if (current === undefined) {
          reject(isShrinkError(e) ? e : new ShrinkError('RUNTIME', `search worker ${id} failed to start: ${e.message}`));
          return;
        }
        results[current] = { name: jobs[current]!.name, seconds: (performance.now() - t0) / 1000, error: `worker crashed: ${e.message}` };
        current = undefined;
        one(id).then(resolve, reject);
      });
    });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, jobs.length)) }, (_, i) => one(i + 1)));
  return results;
}

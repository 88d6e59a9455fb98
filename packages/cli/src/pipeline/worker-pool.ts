/**
 * Runs search trials in worker threads. Under tsx (the sources, no build) a worker does not inherit the
 * TypeScript loader, so it starts from a small ESM bootstrap that registers tsx's loader and then imports
 * the .ts worker; from a build it starts the .js file directly.
 *
 * Trials share step prefixes (the same fine-tuned pruning or distilled student under several
 * quantizations), and those prefixes are where the time goes. Each prefix is computed once: a worker
 * reports the prefixes it computed (saved to disk), later trials get them with the job and read the model
 * back, and a trial whose prefix another worker is computing right now waits for it rather than training
 * the same thing twice; the idle worker takes an unrelated trial meanwhile, or waits.
 */
import { Worker } from 'node:worker_threads';
import { isShrinkError, ShrinkError, type Logger } from '@shrink/core';
import { prefixKey, type SharedStep } from './run-steps.js';
import type { TrialJob, TrialOutcome, WorkerMessage, WorkerSetup } from './trial-worker.js';

function workerEntry(): URL {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new URL('./trial-worker.js', self);
  const target = new URL('./trial-worker.ts', self).href;
  const code = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});\nregister();\nawait import(${JSON.stringify(target)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** Runs every job on `workers` threads; results in job order. `entry` replaces the worker script (tests). */
export async function runTrialsInWorkers(
  jobs: readonly TrialJob[],
  workers: number,
  setup: WorkerSetup,
  log: Logger,
  entry: URL = workerEntry(),
): Promise<TrialOutcome[]> {
  const live = new Set<Worker>();
  let stopped = false;
  const results = new Array<TrialOutcome>(jobs.length);
  const pending = jobs.map((_, i) => i);
  const running = new Map<number, number>(); // worker id -> job index
  const shared = new Map<string, SharedStep>();
  const idle: Array<() => void> = [];
  const keys = jobs.map((j) => j.steps.map((_, n) => prefixKey(j.steps, n + 1)));
  /** Leading steps jobs a and b have in common. */
  const common = (a: number, b: number) => {
    let n = 0;
    while (n < keys[a]!.length && keys[a]![n] === keys[b]![n]) n++;
    return n;
  };
  /** Leading steps of job k already computed by some worker. */
  const known = (k: number) => {
    let n = 0;
    while (n < keys[k]!.length && shared.has(keys[k]![n]!)) n++;
    return n;
  };
  /** Job k would compute a step that another worker is computing now (a step before that job's last). */
  const blocked = (k: number, self: number) =>
    [...running].some(([w, c]) => w !== self && Math.min(common(c, k), keys[c]!.length) > known(k));
  /** The next job for a worker: not blocked, sharing the most with its previous job; undefined to wait; null when none is left. */
  const take = (self: number, prev: number | undefined): number | undefined | null => {
    if (pending.length === 0) return null;
    let at = -1;
    for (let i = 0; i < pending.length; i++) {
      const k = pending[i]!;
      if (blocked(k, self)) continue;
      if (at < 0 || (prev !== undefined && common(prev, k) > common(prev, pending[at]!))) at = i;
    }
    return at < 0 ? undefined : pending.splice(at, 1)[0]!;
  };
  const wakeIdle = () => idle.splice(0).forEach((f) => f());

  const one = (id: number) =>
    new Promise<void>((resolve, reject) => {
      let current: number | undefined;
      let previous: number | undefined;
      let ready = false;
      let t0 = 0;
      // Set once this worker's end is handled (finished, crashed, or failed to start), so 'exit' does not handle it twice.
      let over = false;
      const w = new Worker(entry, { workerData: setup });
      live.add(w);
      const give = () => {
        if (stopped) return;
        const k = take(id, previous);
        if (k === null) {
          current = undefined;
          over = true;
          running.delete(id);
          wakeIdle();
          void w.terminate().then(() => resolve());
          return;
        }
        if (k === undefined) {
          running.delete(id);
          idle.push(give);
          return;
        }
        current = previous = k;
        running.set(id, k);
        t0 = performance.now();
        const job = jobs[k]!;
        log.info(`worker ${id}: trial ${job.name}`);
        w.postMessage({ ...job, known: keys[k]!.map((key) => shared.get(key)).filter((s) => s !== undefined) } satisfies TrialJob);
      };
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') {
          ready = true;
          give();
        } else if (m.type === 'log') log[m.level](`worker ${id}: ${m.msg}`);
        else {
          results[current!] = m.outcome;
          current = undefined;
          for (const s of m.outcome.computed ?? []) if (!shared.has(s.key)) shared.set(s.key, s);
          running.delete(id);
          wakeIdle();
          give();
        }
      });
      const crashed = (why: string, startError?: Error) => {
        if (over) return;
        over = true;
        live.delete(w);
        running.delete(id);
        if (stopped) {
          resolve();
          return;
        }
        // A worker that fails before its first trial (the model or data cannot load) would fail every one: stop.
        if (!ready) {
          reject(
            startError && isShrinkError(startError)
              ? startError
              : new ShrinkError('RUNTIME', `search worker ${id} failed to start: ${why}`),
          );
          return;
        }
        // A crashed worker (a native abort, out of memory, process.exit in a pass) fails its trial; a new worker takes the rest.
        if (current !== undefined)
          results[current] = { name: jobs[current]!.name, seconds: (performance.now() - t0) / 1000, error: `worker crashed: ${why}` };
        current = undefined;
        wakeIdle();
        one(id).then(resolve, reject);
      };
      w.on('error', (e) => crashed(e.message, e));
      // A worker can end without an 'error' event (process.exit inside it): its trial must still settle.
      w.on('exit', (code) => crashed(`exited with code ${code}`));
    });
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, jobs.length)) }, (_, i) => one(i + 1)));
  } catch (e) {
    // A fatal error ends the search: the other workers would otherwise keep training, and keep the process alive.
    stopped = true;
    wakeIdle();
    await Promise.all([...live].map((w) => w.terminate()));
    throw e;
  }
  return results;
}

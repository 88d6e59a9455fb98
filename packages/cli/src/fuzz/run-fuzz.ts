/**
 * The fuzz driver: builds the corpus once, then runs cases in worker threads (in-process `main`,
 * ~100x cheaper than spawning tsx per case). Each case has a wall-clock budget: a worker that does
 * not answer in time is terminated, the case counts as a hang, and a fresh worker takes over.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildCorpus } from './corpus.js';
import { makeCase } from './cases.js';
import type { CaseResult } from './run-case.js';

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Worker threads; default 2. */
  workers?: number;
  /** Per-case budget in ms; default 10 s. */
  timeoutMs?: number;
  /** Run only these case indices (to replay failures). */
  only?: readonly number[];
  /** Called after each case. */
  onCase?: (r: CaseResult, done: number) => void;
}

export interface FuzzFailure {
  index: number;
  label: string;
  problems: string[];
}

export interface FuzzSummary {
  seed: number;
  cases: number;
  exit0: number;
  /** A gate failed (run, search): a defined outcome. */
  exit1: number;
  exit2: number;
  /** Exit 2 with an output left behind (each is also a failure). */
  leftOutput: number;
  failures: FuzzFailure[];
  ms: number;
  /** Cases per command word. */
  byCommand: Record<string, number>;
  slowest: { index: number; label: string; ms: number };
}

const BOOT = new URL('./worker-boot.mjs', import.meta.url);
const ENTRY = new URL('./worker.ts', import.meta.url).href;
const MAX_START_FAILURES = 3;

export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const t0 = performance.now();
  const root = await mkdtemp(path.join(os.tmpdir(), 'shrink-fuzz-'));
  try {
    const corpusDir = path.join(root, 'corpus');
    const corpus = await buildCorpus(corpusDir);
    const queue = opts.only ? [...opts.only] : Array.from({ length: opts.cases }, (_, i) => i);
    const total = queue.length;
    const results: CaseResult[] = [];
    const failures: FuzzFailure[] = [];
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const label = (i: number) => {
      try {
        return makeCase(corpus, opts.seed, i).label;
      } catch (e) {
        return `case ${i} (label unavailable: ${(e as Error).message})`;
      }
    };
    const fail = (index: number, problem: string) => failures.push({ index, label: label(index), problems: [problem] });

    const live = new Set<Worker>();
    const lane = (id: number) =>
      new Promise<void>((resolve, reject) => {
        let worker: Worker;
        let current: number | undefined;
        let timer: NodeJS.Timeout | undefined;
        let finished = false;
        // A worker that dies before it is ready would die again: give up after a few, with the reason.
        let ready = false;
        let startFailures = 0;
        const next = () => {
          clearTimeout(timer);
          current = queue.shift();
          if (current === undefined) {
            finished = true;
            live.delete(worker);
            void worker.terminate().then(() => resolve());
            return;
          }
          timer = setTimeout(() => {
            fail(current!, `no answer within ${timeoutMs} ms (hang or runaway allocation)`);
            restart();
          }, timeoutMs);
          worker.postMessage({ index: current });
        };
        const restart = (why?: string) => {
          clearTimeout(timer);
          // The case that was running is recorded as failed already; the new worker starts clean.
          current = undefined;
          const old = worker;
          old.removeAllListeners();
          live.delete(old);
          void old.terminate();
          if (!ready && ++startFailures >= MAX_START_FAILURES) {
            finished = true;
            reject(
              new Error(
                `fuzz: worker ${id} failed to start ${startFailures} times in a row (last: ${why ?? 'unknown'}); no case ran on it`,
              ),
            );
            return;
          }
          start();
        };
        const start = () => {
          ready = false;
          worker = new Worker(BOOT, {
            execArgv: ['--conditions=@shrink/source'],
            workerData: { entry: ENTRY, corpusDir, workDir: path.join(root, `w${id}`), seed: opts.seed },
            // A heap blow-up ends this worker (reported as the case's failure), not the test process.
            resourceLimits: { maxOldGenerationSizeMb: 2048 },
            stdout: true,
            stderr: true,
          });
          live.add(worker);
          worker.stdout.resume();
          worker.stderr.resume();
          worker.on('message', (m: { type: string; result?: CaseResult; index?: number; error?: string }) => {
            if (m.type === 'ready') {
              ready = true;
              startFailures = 0;
              next();
            } else if (m.type === 'result' && m.result) {
              results.push(m.result);
              if (m.result.problems.length) failures.push({ index: m.result.index, label: m.result.label, problems: m.result.problems });
              opts.onCase?.(m.result, results.length);
              next();
            } else if (m.type === 'escaped') {
              // The case may still answer; an escape is a failure either way.
              fail(m.index ?? -1, `escaped the CLI: ${m.error}`);
              if (/^harness:/.test(m.error ?? '')) next();
            }
          });
          worker.on('error', (e) => {
            if (current !== undefined) fail(current, `worker died: ${e.message}`);
            restart(e.message);
          });
          worker.on('exit', (code) => {
            if (finished) return;
            if (current !== undefined) fail(current, `worker exited with ${code}`);
            if (current !== undefined || !ready) restart(`exit code ${code}`);
          });
        };
        try {
          start();
        } catch (e) {
          reject(e);
        }
      });
    try {
      await Promise.all(Array.from({ length: Math.min(opts.workers ?? 2, total) }, (_, i) => lane(i)));
    } finally {
      await Promise.all([...live].map((w) => w.terminate()));
    }

    results.sort((a, b) => a.index - b.index);
    failures.sort((a, b) => a.index - b.index);
    const byCommand: Record<string, number> = {};
    for (const r of results) {
      const cmd = r.label.split(' ')[0]!;
      byCommand[cmd] = (byCommand[cmd] ?? 0) + 1;
    }
    const slow = results.reduce((a, b) => (b.ms > a.ms ? b : a), results[0] ?? { index: -1, label: '', ms: 0 });
    return {
      seed: opts.seed,
      cases: total,
      exit0: results.filter((r) => r.code === 0).length,
      exit1: results.filter((r) => r.code === 1).length,
      exit2: results.filter((r) => r.code === 2).length,
      leftOutput: results.filter((r) => r.leftOutput).length,
      failures,
      ms: performance.now() - t0,
      byCommand,
      slowest: { index: slow.index, label: slow.label, ms: slow.ms },
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

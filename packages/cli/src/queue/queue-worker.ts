/**
 * `shrink worker`: takes trials from the queues of the searches under way and runs them with the same
 * code as a search's worker threads (runSteps, then compareModels), reading models and data from the
 * artifact store and writing the trial's model and its computed step prefixes back to it.
 *
 * A job is parsed with the trial schema first; a job that does not parse, or was made by other code, or
 * whose key is not the hash of its content, is refused (UnrecoverableError: failed at once, no retry)
 * and nothing runs. Options are the passes' own, checked by their schemas; an option that names a file
 * must come from the store (`store:<tree>/<file>`), any other path is refused.
 */
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Ctx, Logger } from '@shrink/core';
import { compareModels } from '@shrink/core/runtime';
import { baselineUnderTest, loadModelInput, type ModelInput } from '../model-input.js';
import { stepOf, type Step } from '../pipeline/config-schema.js';
import { kernelsOn, measuringCtx, passCtx, pipelineTarget } from '../pipeline/pipeline-target.js';
import { PipelineDatasets, prefixKey, runSteps, type StepMemo } from '../pipeline/run-steps.js';
import { fileInTree, getTree, putTree, readManifest, type ArtifactStore } from './artifact-store.js';
import { ioredisOptions, type RedisTarget } from './redis-url.js';
import { loadPrefix, savePrefix } from './prefix-store.js';
import {
  codeVersion,
  firstIssue,
  prefixHashOf,
  PROTOCOL,
  resultKeyOf,
  SEARCHES_CHANNEL,
  SEARCHES_KEY,
  trialJobSchema,
  type DataRef,
  type TrialJobData,
  type TrialResult,
} from './trial-job.js';

export interface QueueWorkerOptions {
  redis: RedisTarget;
  store: ArtifactStore;
  /** Trials run at once by this process. */
  concurrency: number;
  /** Local folder for artifacts copied from the store and the trials' work files. */
  cacheDir: string;
  /** BullMQ lock: a worker that stops renewing it for this long (killed, frozen) loses the trial to another. */
  lockDuration: number;
  /** How often this worker looks for trials whose worker died. */
  stalledInterval: number;
  log: Logger;
  /** Applied to every line this worker prints (credentials). */
  redact: (s: string) => string;
}

/** Options values that read as paths; the queue may not name files outside the store. */
const PATHLIKE = /^(\/|~|\.{1,2}[\\/]|[a-zA-Z]:[\\/])|[\\/]/;
const STORE_REF = /^store:([0-9a-f]{64})(?:\/(.+))?$/;

/** Loaded once per (model, data) and kept while trials of that search come. */
interface Context {
  key: string;
  input: ModelInput;
  datasets: PipelineDatasets;
  memo: Map<string, StepMemo>;
}

export async function runQueueWorker(opts: QueueWorkerOptions, signal: AbortSignal): Promise<void> {
  const { log, redact } = opts;
  const me = `${os.hostname()}:${process.pid}`;
  const code = codeVersion();
  const threads = Math.max(1, Math.floor(os.availableParallelism() / opts.concurrency));
  const ctx: Ctx = { threads, logger: { debug() {}, info: (m) => log.info(redact(m)), warn: (m) => log.warn(redact(m)) } };
  let contexts: Context[] = [];
  let running = 0;
  const slots: Array<() => void> = [];
  // One process-wide limit, whatever the number of searches whose queues it serves.
  const acquire = () => (running < opts.concurrency ? (running++, Promise.resolve()) : new Promise<void>((r) => slots.push(r)));
  const release = () => {
    const next = slots.shift();
    if (next) next();
    else running--;
  };

  // BullMQ renews a running trial's lock from a timer, so it needs the event loop: tfjs training (wasm or
  // cpu backend) and other synchronous stretches hold it for seconds at a time. Each trial's longest such
  // stretch is measured with a ticker, printed with its result, and warned about when it nears the lock.
  const TICK = 250;
  const watched = new Set<{ max: number }>();
  let ticker: NodeJS.Timeout | undefined;
  function watchLoop(): () => number {
    const w = { max: 0 };
    watched.add(w);
    if (!ticker) {
      let last = performance.now();
      ticker = setInterval(() => {
        const now = performance.now();
        const gap = now - last - TICK;
        last = now;
        for (const x of watched) x.max = Math.max(x.max, gap);
      }, TICK).unref();
    }
    return () => {
      watched.delete(w);
      if (watched.size === 0) {
        clearInterval(ticker);
        ticker = undefined;
      }
      return w.max;
    };
  }

  async function contextFor(job: TrialJobData): Promise<Context> {
    const key = JSON.stringify([job.model, job.data]);
    const have = contexts.find((c) => c.key === key);
    if (have) return have;
    const dir = await getTree(opts.store, job.model.tree, path.join(opts.cacheDir, 'artifacts'));
    const file = fileInTree(dir, await readManifest(opts.store, job.model.tree), job.model.file);
    const input = await loadModelInput(file, ctx);
    const local = async (ref: DataRef | undefined): Promise<string | undefined> => {
      if (ref === undefined) return undefined;
      if ('preset' in ref) return ref.preset;
      return treeFile(ref.tree, ref.file);
    };
    const [evalSpec, calibration, train] = await Promise.all([local(job.data.eval), local(job.data.calibration), local(job.data.train)]);
    const datasets = new PipelineDatasets({
      ...(evalSpec !== undefined ? { eval: evalSpec } : {}),
      ...(calibration !== undefined ? { calibration } : {}),
      ...(train !== undefined ? { train } : {}),
      cwd: opts.cacheDir,
    });
    const c: Context = { key, input, datasets, memo: new Map() };
    // Two searches at a time at most: the models and datasets of older ones are let go.
    contexts = [c, ...contexts].slice(0, 2);
    return c;
  }

  async function treeFile(tree: string, file: string | undefined): Promise<string> {
    const dir = await getTree(opts.store, tree, path.join(opts.cacheDir, 'artifacts'));
    return file === undefined ? dir : fileInTree(dir, await readManifest(opts.store, tree), file);
  }

  /** Options with store references made local paths; any other path is refused. */
  async function localOptions(step: Step, where: string): Promise<Step> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(step.options)) {
      if (typeof v === 'string') {
        const m = STORE_REF.exec(v);
        if (m) out[k] = await treeFile(m[1]!, m[2]);
        else if (PATHLIKE.test(v)) throw new UnrecoverableError(`refused: ${where}.${step.kind}.${k}: a path outside the artifact store`);
        else out[k] = v;
      } else out[k] = v;
    }
    return { kind: step.kind, options: out };
  }

  /** The job's data, or a refusal: nothing of a refused job runs. */
  function accept(job: Job): TrialJobData {
    const parsed = trialJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`refused by schema: ${firstIssue(parsed.error)}`);
    const data = parsed.data;
    if (data.code !== code) throw new UnrecoverableError(`refused: made for ${data.code.slice(0, 80)}, this worker runs ${code}`);
    const steps = data.steps.map(stepOf);
    if (resultKeyOf({ ...data, steps }) !== data.resultKey || job.id !== data.resultKey)
      throw new UnrecoverableError('refused: the job id and result key are not the hash of its content');
    return data;
  }

  async function process_(job: Job): Promise<TrialResult> {
    const data = accept(job);
    await acquire();
    const startedAt = Date.now();
    const t0 = performance.now();
    const blocked = watchLoop();
    const work = path.join(opts.cacheDir, 'work', data.resultKey);
    try {
      log.info(`worker ${me}: ${data.name}: start (${data.search}, attempt ${job.attemptsMade + 1})`);
      // The passes' lines name the trial, as a search's worker threads do.
      const say = (m: string) => redact(`worker ${me}: ${data.name}: ${m}`);
      const tctx: Ctx = { threads, logger: { debug() {}, info: (m) => log.info(say(m)), warn: (m) => log.warn(say(m)) } };
      const target = pipelineTarget(data.measure.target);
      const steps = await Promise.all(data.steps.map((s, i) => localOptions(stepOf(s), `steps[${i}]`)));
      const c = await contextFor(data);
      const keyParts = { code: data.code, model: data.model, data: data.data };
      const hashes = steps.map((_, n) => prefixHashOf(keyParts, data.steps.map(stepOf), n + 1));
      // Prefixes another worker (or an earlier trial here) computed: read back from the store, not recomputed.
      for (let n = 1; n <= steps.length; n++) {
        if (c.memo.has(prefixKey(steps, n))) continue;
        const m = await loadPrefix(opts.store, hashes[n - 1]!, (t, f) => treeFile(t, f));
        if (m) c.memo.set(prefixKey(steps, n), m);
      }
      await mkdir(work, { recursive: true });
      let result: TrialResult;
      try {
        const run = await runSteps(
          c.input.model,
          steps,
          c.datasets,
          {
            outDir: work,
            prefix: `${data.name}-step`,
            inputs: c.input.inputs,
            memo: c.memo,
            label: data.name,
            target,
            ...(data.measure.gridIntensity !== undefined ? { gridIntensity: data.measure.gridIntensity } : {}),
          },
          passCtx(tctx, target),
        );
        const evalSet = await c.datasets.eval();
        const feeds = await c.datasets.feeds();
        // Few latency runs, as in the worker threads: the search measures latency again itself.
        const cmp = await compareModels(
          baselineUnderTest(c.input),
          [{ name: data.name, model: run.model, path: run.path, diskBytes: run.diskBytes }],
          {
            runs: 5,
            warmup: 1,
            batch: data.measure.batch,
            evalBatch: data.measure.evalBatch,
            ...(evalSet ? { data: evalSet } : {}),
            ...(feeds ? { feeds } : {}),
            ...(data.measure.gridIntensity !== undefined ? { gridIntensity: data.measure.gridIntensity } : {}),
          },
          measuringCtx(tctx, target),
        );
        const computed: string[] = [];
        for (const s of run.computed) {
          const n = steps.findIndex((_, i) => prefixKey(steps, i + 1) === s.key) + 1;
          const saved = run.saved.find((x) => x.path === s.path);
          await savePrefix(opts.store, hashes[n - 1]!, s, saved?.files ?? [s.path]);
          computed.push(hashes[n - 1]!);
        }
        const tree = await putTree(
          opts.store,
          work,
          run.files.map((f) => path.relative(work, f)),
        );
        result = {
          protocol: PROTOCOL,
          resultKey: data.resultKey,
          name: data.name,
          seconds: (performance.now() - t0) / 1000,
          model: { tree, file: path.relative(work, run.path) },
          diskBytes: run.diskBytes,
          metrics: cmp.report.candidates[0]!.metrics as unknown as TrialResult['metrics'],
          steps: run.steps as unknown as TrialResult['steps'],
          layers: run.layers as unknown as TrialResult['layers'],
          kernels: kernelsOn(run.model, target) as unknown as TrialResult['kernels'],
          computed,
          worker: me,
          startedAt,
          finishedAt: Date.now(),
        };
      } catch (e) {
        if (e instanceof UnrecoverableError) throw e;
        // A trial that fails is a result (a failed row), as in a local search: retrying would fail alike.
        result = {
          protocol: PROTOCOL,
          resultKey: data.resultKey,
          name: data.name,
          seconds: (performance.now() - t0) / 1000,
          error: redact(e instanceof Error ? e.message : String(e)).slice(0, 4000),
          worker: me,
          startedAt,
          finishedAt: Date.now(),
        };
      }
      const block = blocked() / 1000;
      log.info(
        `worker ${me}: ${data.name}: ${result.error ? `failed: ${result.error}` : 'done'} in ${result.seconds.toFixed(1)} s (event loop held up to ${block.toFixed(1)} s)`,
      );
      if (block * 1000 > opts.lockDuration / 2)
        log.warn(
          `worker ${me}: ${data.name}: the event loop was held for ${block.toFixed(1)} s, over half the lock (--lock-duration ${opts.lockDuration} ms): the lock may have lapsed and the trial been given to another worker; raise --lock-duration`,
        );
      return result;
    } finally {
      blocked();
      release();
      await rm(work, { recursive: true, force: true });
    }
  }

  const processor = async (job: Job) => {
    try {
      return await process_(job);
    } catch (e) {
      const msg = redact(e instanceof Error ? e.message : String(e));
      log.warn(`worker ${me}: job ${String(job.id).slice(0, 12)}: ${msg}`);
      // The message travels to Redis (the job's failedReason): redacted, and without the original error attached.
      if (e instanceof UnrecoverableError) throw new UnrecoverableError(msg);
      // eslint-disable-next-line preserve-caught-error
      throw new Error(msg);
    }
  };

  // Which queues to serve: the set of searches under way, watched (pub/sub, and a poll as a backstop).
  const connection = ioredisOptions(opts.redis);
  const watcher = new Redis(connection);
  const subscriber = new Redis(connection);
  let lastError = '';
  for (const c of [watcher, subscriber])
    c.on('error', (e: Error) => {
      const msg = redact(e.message);
      if (msg !== lastError) log.warn(`worker ${me}: redis ${opts.redis.display}: ${msg}`);
      lastError = msg;
    });
  const workers = new Map<string, Worker>();
  const sync = async () => {
    const names = (await watcher.smembers(SEARCHES_KEY)).filter((n) => /^shrink-[a-z0-9-]{1,120}$/.test(n));
    for (const name of names) {
      if (workers.has(name)) continue;
      const w = new Worker(name, processor, {
        connection,
        concurrency: opts.concurrency,
        lockDuration: opts.lockDuration,
        stalledInterval: opts.stalledInterval,
        maxStalledCount: 3,
        drainDelay: 1,
      });
      w.on('error', (e) => log.warn(`worker ${me}: ${name}: ${redact(e.message)}`));
      workers.set(name, w);
      log.info(`worker ${me}: serving ${name}`);
    }
    for (const [name, w] of workers)
      if (!names.includes(name)) {
        workers.delete(name);
        // A finished search: let a running trial end, then stop taking its jobs.
        void w.close().then(() => log.info(`worker ${me}: ${name} finished`));
      }
  };
  await subscriber.subscribe(SEARCHES_CHANNEL);
  subscriber.on('message', () => void sync().catch(() => {}));
  log.info(`worker ${me}: waiting for trials on ${opts.redis.display} (concurrency ${opts.concurrency}, store ${opts.store.display})`);
  await sync().catch((e: unknown) => log.warn(`worker ${me}: ${redact(e instanceof Error ? e.message : String(e))}`));
  const poll = setInterval(() => void sync().catch(() => {}), 2_000);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(poll);
  log.info(`worker ${me}: stopping (running trials finish first)`);
  await Promise.all([...workers.values()].map((w) => w.close()));
  subscriber.disconnect();
  watcher.disconnect();
}

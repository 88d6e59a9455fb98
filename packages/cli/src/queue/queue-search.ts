/**
 * The search side of `shrink search --queue`: puts every trial on a BullMQ queue named after the search
 * (its config file and a hash of what it searches), and gathers the results for search.ts, which builds
 * the same report as a local search from them (and measures latency again on this machine).
 *
 * Nothing lost, nothing doubled: a trial's job id is its result key, so adding it again (a restarted
 * search, a retried trial) never makes a second job or a second row, and a restarted search finds the
 * finished ones and waits for the rest. A trial whose step prefix is being computed by another trial waits
 * until that one has stored it, so the prefix is trained once. Redis going away is tolerated for
 * `redisTimeout` seconds (the jobs resume if it comes back with its data, or are put again if it comes
 * back empty); after that the search ends in one line naming what was lost. It never waits longer than
 * that, nor past `timeBudget`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Job, Queue, QueueEvents } from 'bullmq';
import { ShrinkError, type Logger } from '@shrink/core';
import { saveModel } from '@shrink/core/io';
import type { ModelInput } from '../model-input.js';
import type { Step } from '../pipeline/config-schema.js';
import type { PipelineConfig } from '../pipeline/load-config.js';
import type { Trial } from '../pipeline/search-space.js';
import type { TrialOutcome } from '../pipeline/trial-worker.js';
import { openStore, putTree, sha256, writeTreeInto, type ArtifactStore } from './artifact-store.js';
import { ioredisOptions, parseRedisUrl, redactor } from './redis-url.js';
import { probeRedis } from './probe-redis.js';
import {
  codeVersion,
  firstIssue,
  prefixHashOf,
  PROTOCOL,
  queueNameOf,
  resultKeyOf,
  SEARCHES_CHANNEL,
  SEARCHES_KEY,
  stepToData,
  trialResultSchema,
  type DataRef,
  type TrialJobData,
  type TrialResult,
} from './trial-job.js';

export interface QueueSettings {
  url: string;
  /** Artifact store: a shared folder or s3://bucket/prefix (default: $SHRINK_STORE, else ~/.cache/shrink/queue-store). */
  store?: string;
  /** Seconds after which trials without a result are reported as failed (default: no limit). */
  timeBudget?: number;
  /** Seconds Redis may be unreachable before the search gives up (default 30). */
  redisTimeout?: number;
  /** How the URL was given, for errors: `--queue` or `search.queue`. */
  from?: string;
}

/** When each trial was put on the queue, started and finished on its worker, and seen here (ms since the epoch). */
export interface TrialTiming {
  name: string;
  worker?: string;
  enqueuedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  receivedAt?: number;
}

export interface QueueRun {
  outcomes: TrialOutcome[];
  notes: string[];
  /** Worker processes that returned results. */
  workers: number;
  queue: string;
  timings: TrialTiming[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
    }),
  ]);
}

/** The input model in the store: its .onnx (and external data) as they are, a tfjs folder as converted. */
async function modelRef(store: ArtifactStore, input: ModelInput): Promise<{ tree: string; file: string }> {
  if (input.onnxPath) {
    const dir = path.dirname(input.onnxPath);
    const files = input.inputs.map((f) => path.relative(dir, f));
    return { tree: await putTree(store, dir, files), file: path.basename(input.onnxPath) };
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'shrink-queue-'));
  try {
    const saved = await saveModel(input.model, path.join(tmp, 'model.onnx'));
    return { tree: await putTree(store, tmp), file: path.basename(saved.path) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A data spec: a file or folder goes to the store by content; anything else must be a preset name. */
async function dataRef(store: ArtifactStore, spec: string | undefined, cwd: string, key: string): Promise<DataRef | undefined> {
  if (spec === undefined) return undefined;
  const abs = path.resolve(cwd, spec);
  const st = await import('node:fs/promises').then((fs) => fs.stat(abs).catch(() => undefined));
  if (st?.isFile()) return { tree: await putTree(store, abs), file: path.basename(abs) };
  if (st?.isDirectory()) return { tree: await putTree(store, abs) };
  if (/^[a-z][a-z-]*(:\d{1,9})?$/.test(spec)) return { preset: spec };
  throw new ShrinkError(
    'INVALID_CONFIG',
    `data.${key}: '${spec}' is neither a file nor a folder nor a preset name, and workers could not read it`,
  );
}

/** Options naming files (made absolute by the passes' prepare) go to the store; workers get `store:<tree>/<file>`. */
async function storeOptions(store: ArtifactStore, step: Step): Promise<Step> {
  const out: Record<string, unknown> = {};
  const fs = await import('node:fs/promises');
  for (const [k, v] of Object.entries(step.options)) {
    // A cache folder is the machine's own; each worker keeps its own.
    if (k === 'cacheDir') continue;
    if (typeof v === 'string' && path.isAbsolute(v)) {
      const st = await fs.stat(v).catch(() => undefined);
      if (st?.isFile()) out[k] = `store:${await putTree(store, v)}/${path.basename(v)}`;
      else if (st?.isDirectory()) out[k] = `store:${await putTree(store, v)}`;
      else out[k] = v;
    } else out[k] = v;
  }
  return { kind: step.kind, options: out };
}

/** What a search puts on the queue: the queue's name, each trial's job, and each trial's prefix keys. */
export interface QueuePlan {
  name: string;
  jobs: TrialJobData[];
  keys: string[][];
}

/** Copies the model and data into the store and makes the jobs (the same every time for the same search). */
export async function planQueue(
  trials: readonly Trial[],
  config: PipelineConfig,
  input: ModelInput,
  store: ArtifactStore,
): Promise<QueuePlan> {
  const code = codeVersion();
  const model = await modelRef(store, input);
  const data: TrialJobData['data'] = {};
  for (const key of ['eval', 'calibration', 'train'] as const) {
    const ref = await dataRef(store, config.data[key], config.data.cwd, key);
    if (ref) data[key] = ref;
  }
  const measure: TrialJobData['measure'] = {
    batch: config.evaluation.batch,
    evalBatch: config.evaluation.evalBatch,
    target: config.target,
    ...(config.grid.value !== undefined ? { gridIntensity: config.grid.value } : {}),
  };
  const jobs: TrialJobData[] = [];
  const stored: Step[][] = [];
  for (const t of trials) {
    const steps = await Promise.all(t.steps.map((s) => storeOptions(store, s)));
    stored.push(steps);
    jobs.push({
      protocol: PROTOCOL,
      code,
      search: '',
      resultKey: resultKeyOf({ code, model, data, steps, measure }),
      name: t.name,
      steps: steps.map(stepToData),
      model,
      data,
      measure,
    });
  }
  const configHash = sha256(JSON.stringify([code, model, data, measure, jobs.map((j) => [j.name, j.resultKey])]));
  const name = queueNameOf(config.file, configHash);
  for (const j of jobs) j.search = name;
  // The prefix hashes of each trial, as the workers store them: what a trial could reuse, and what it shares.
  const keys = stored.map((steps) => steps.map((_, n) => prefixHashOf({ code, model, data }, steps, n + 1)));
  return { name, jobs, keys };
}

/**
 * A trial's job and its state, read so that a completed job always comes with its result. The state is
 * read first: reading the job first (returnvalue null while active) and then its state races with the
 * worker's moveToFinished, which sets the result and the state in one step; a job that completed between
 * the two reads showed as completed with a null result, and the trial became a failed row ("expected
 * object, received null") although its worker had finished it. A completed job's hash no longer changes
 * (only a retry, which this search asks for only of failed jobs, or its removal after 7 days would), so
 * after the state it is read as it is. A completed job read without a result is read once more; only if
 * it still has none is that its result (and refused by the schema).
 */
export async function readTrialJob(
  queue: Queue,
  id: string,
): Promise<{ job: Job<TrialJobData, unknown> | undefined; state: Awaited<ReturnType<Queue['getJobState']>> }> {
  const state = await queue.getJobState(id);
  let job = await Job.fromId<TrialJobData, unknown>(queue, id);
  if (state === 'completed' && job && job.returnvalue == null) job = await Job.fromId<TrialJobData, unknown>(queue, id);
  return { job, state };
}

export async function runTrialsOnQueue(
  trials: readonly Trial[],
  config: PipelineConfig,
  input: ModelInput,
  trialsDir: string,
  settings: QueueSettings,
  log: Logger,
): Promise<QueueRun> {
  const from = settings.from ?? '--queue';
  const redis = parseRedisUrl(settings.url, from);
  const redact = redactor([redis.password]);
  try {
    return await gather(trials, config, input, trialsDir, settings, log, redis, redact);
  } catch (e) {
    // Whatever ioredis or BullMQ said, the password is not repeated.
    if (e instanceof ShrinkError)
      throw new ShrinkError(e.code, redact(e.detail), {
        ...(e.option !== undefined ? { option: e.option } : {}),
        ...(e.subject !== undefined ? { subject: redact(e.subject) } : {}),
        ...(e.missing !== undefined ? { missing: e.missing } : {}),
      });
    throw new ShrinkError('RUNTIME', `queue ${redis.display}: ${redact(e instanceof Error ? e.message : String(e))}`);
  }
}

async function gather(
  trials: readonly Trial[],
  config: PipelineConfig,
  input: ModelInput,
  trialsDir: string,
  settings: QueueSettings,
  log: Logger,
  redis: ReturnType<typeof parseRedisUrl>,
  redact: (s: string) => string,
): Promise<QueueRun> {
  const redisTimeout = (settings.redisTimeout ?? 30) * 1000;
  const store = openStore(settings.store);
  // Before anything is copied to the store: a wrong URL or password fails here, at once.
  await probeRedis(redis, redact, settings.from ?? '--queue');
  const { name, jobs, keys } = await planQueue(trials, config, input, store);
  // Prefixes already in the store (an earlier run of this search): trials reusing them need not wait.
  const known = new Set<string>();
  for (const ks of keys) for (const k of ks) if (await store.has(`prefixes/${k}.json`)) known.add(k);
  const connection = ioredisOptions(redis);
  const client = new Redis({ ...connection, lazyConnect: true, maxRetriesPerRequest: 1 });
  let lastError = '';
  client.on('error', (e: Error) => void (lastError = redact(e.message)));
  await withTimeout(client.connect(), 10_000, 'connect').catch((e: unknown) => {
    client.disconnect();
    throw new ShrinkError(
      'RUNTIME',
      `queue: Redis at ${redis.display} went away: ${lastError || redact(e instanceof Error ? e.message : String(e))}`,
    );
  });
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  let wake: (() => void) | undefined;
  const wakeUp = () => wake?.();
  queue.on('error', (e: Error) => void (lastError = redact(e.message)));
  events.on('error', (e: Error) => void (lastError = redact(e.message)));
  events.on('completed', wakeUp);
  events.on('failed', wakeUp);

  type State = 'pending' | 'waiting' | 'active' | 'done';
  const state: State[] = jobs.map(() => 'pending');
  const results = new Map<number, TrialResult | { error: string }>();
  const timings: TrialTiming[] = jobs.map((j) => ({ name: j.name }));
  const knownLen = (k: number) => {
    let n = 0;
    while (n < keys[k]!.length && known.has(keys[k]![n]!)) n++;
    return n;
  };
  const common = (a: number, b: number) => {
    let n = 0;
    while (n < keys[a]!.length && n < keys[b]!.length && keys[a]![n] === keys[b]![n]) n++;
    return n;
  };
  /** Trial k would compute a prefix an enqueued trial is computing (or will): it waits for that one. */
  const blocked = (k: number) => state.some((s, c) => c !== k && (s === 'waiting' || s === 'active') && common(c, k) > knownLen(k));

  const register = async () => {
    if ((await client.sadd(SEARCHES_KEY, name)) === 1) await client.publish(SEARCHES_CHANNEL, name);
  };

  const refresh = async (i: number) => {
    const { job, state: st } = await readTrialJob(queue, jobs[i]!.resultKey);
    if (!job) {
      // Never added, or Redis came back without its data: (re)added by the next round.
      if (state[i] !== 'pending') log.warn(`queue ${name}: ${jobs[i]!.name} is no longer on the queue; putting it again`);
      state[i] = 'pending';
      return;
    }
    timings[i]!.enqueuedAt = job.timestamp;
    if (st === 'completed') {
      const parsed = trialResultSchema.safeParse(job.returnvalue);
      if (!parsed.success || parsed.data.resultKey !== jobs[i]!.resultKey)
        results.set(i, { error: `result refused by schema: ${parsed.success ? "another trial's key" : firstIssue(parsed.error)}` });
      else {
        results.set(i, parsed.data);
        for (const c of parsed.data.computed ?? []) known.add(c);
        Object.assign(timings[i]!, {
          worker: parsed.data.worker,
          startedAt: parsed.data.startedAt,
          finishedAt: parsed.data.finishedAt,
          receivedAt: Date.now(),
        });
      }
      state[i] = 'done';
    } else if (st === 'failed' && firstRound) {
      // Failed in an earlier run of this search (a worker refused it, the store was away): tried again once.
      log.info(`queue ${name}: ${jobs[i]!.name} failed in an earlier run (${redact(job.failedReason || '?')}); trying it again`);
      await job.retry('failed');
      state[i] = 'waiting';
    } else if (st === 'failed') {
      results.set(i, { error: redact(job.failedReason || 'failed on the queue') });
      state[i] = 'done';
    } else state[i] = st === 'active' ? 'active' : 'waiting';
  };

  let firstRound = true;
  const round = async () => {
    await register();
    for (let i = 0; i < jobs.length; i++) if (state[i] !== 'done') await refresh(i);
    firstRound = false;
    for (let i = 0; i < jobs.length; i++) {
      if (state[i] !== 'pending' || blocked(i)) continue;
      await queue.add(jobs[i]!.name, jobs[i]!, {
        jobId: jobs[i]!.resultKey,
        attempts: 3,
        backoff: { type: 'fixed', delay: 1000 },
        removeOnComplete: { age: 7 * 86_400 },
        removeOnFail: { age: 7 * 86_400 },
      });
      state[i] = 'waiting';
    }
  };

  const started = Date.now();
  const deadline = settings.timeBudget !== undefined ? started + settings.timeBudget * 1000 : Infinity;
  let lastOk = Date.now();
  let lastLine = '';
  let lastChange = Date.now();
  let lastHint = 0;
  let overBudget = false;
  log.info(`search: ${jobs.length} trials on queue ${name} at ${redis.display} (store ${store.display})`);
  try {
    for (;;) {
      try {
        await withTimeout(round(), 5_000, 'Redis');
        lastOk = Date.now();
      } catch (e) {
        const why = lastError || redact(e instanceof Error ? e.message : String(e));
        if (Date.now() - lastOk > redisTimeout) {
          const done = state.filter((s) => s === 'done').length;
          const lost = jobs.filter((_, i) => state[i] !== 'done').map((j) => j.name);
          throw new ShrinkError(
            'RUNTIME',
            `queue ${redis.display}: Redis unreachable for ${Math.round((Date.now() - lastOk) / 1000)} s mid-search (${why}); lost: ${lost.length} unfinished trial(s) (${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ', ...' : ''}) and ${done} received result(s) not yet reported; run the same search again once Redis is back: it resumes from what Redis kept`,
          );
        }
      }
      const count = (s: State) => state.filter((x) => x === s).length;
      const held = count('pending');
      const line = `queue: ${count('waiting')} queued, ${count('active')} running, ${count('done')}/${jobs.length} done${held ? `, ${held} waiting for a step another trial computes` : ''}`;
      if (line !== lastLine) {
        log.info(line);
        lastChange = Date.now();
      }
      lastLine = line;
      // Trials waiting and none running for a while: most likely no worker is listening to this Redis.
      if (count('active') === 0 && count('waiting') > 0 && Date.now() - lastChange > 30_000 && Date.now() - lastHint > 60_000) {
        log.warn(
          `queue ${name}: no worker has taken a trial for ${Math.round((Date.now() - lastChange) / 1000)} s; start one with \`shrink worker --queue ${redis.display}\` (the same --store)`,
        );
        lastHint = Date.now();
      }
      if (count('done') === jobs.length) break;
      if (Date.now() > deadline) {
        overBudget = true;
        for (let i = 0; i < jobs.length; i++)
          if (state[i] !== 'done') results.set(i, { error: `no result within the time budget (${settings.timeBudget} s)` });
        break;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        void sleep(250).then(resolve);
      });
    }
    // Finished (or out of time): workers stop serving this queue; the results stay for a re-run to find.
    await withTimeout(client.srem(SEARCHES_KEY, name), 5_000, 'Redis').catch(() => {});
    await withTimeout(client.publish(SEARCHES_CHANNEL, name), 5_000, 'Redis').catch(() => {});
  } finally {
    await withTimeout(Promise.all([queue.close(), events.close(), client.quit()]), 3_000, 'close').catch(() => {});
    client.disconnect();
    void queue.disconnect().catch(() => {});
    void events.disconnect().catch(() => {});
  }

  const outcomes: TrialOutcome[] = [];
  for (let i = 0; i < jobs.length; i++) {
    const r = results.get(i)!;
    const name_ = jobs[i]!.name;
    if (!('protocol' in r) || r.error !== undefined || !r.model) {
      outcomes.push({ name: name_, seconds: 'seconds' in r ? r.seconds : 0, error: redact(r.error ?? 'no model in the result') });
      continue;
    }
    await writeTreeInto(store, r.model.tree, trialsDir);
    outcomes.push({
      name: name_,
      seconds: r.seconds,
      path: path.join(trialsDir, r.model.file),
      ...(r.diskBytes !== undefined ? { diskBytes: r.diskBytes } : {}),
      ...(r.metrics ? { metrics: r.metrics as unknown as TrialOutcome['metrics'] } : {}),
      ...(r.steps ? { steps: r.steps as unknown as TrialOutcome['steps'] } : {}),
      ...(r.layers ? { layers: r.layers } : {}),
      ...(r.kernels ? { kernels: r.kernels as unknown as TrialOutcome['kernels'] } : {}),
    });
  }
  const workers = new Set(timings.map((t) => t.worker).filter((w) => w !== undefined)).size;
  const notes = [
    `search: trials on the BullMQ queue ${name} at ${redis.display}, run by ${workers} worker process(es); models and data through the artifact store ${store.display}; only the trials' final models are copied into trials/`,
    ...(overBudget
      ? [`search: time budget of ${settings.timeBudget} s reached: the trials without a result stay on the queue for a re-run`]
      : []),
  ];
  return { outcomes, notes, workers, queue: name, timings };
}

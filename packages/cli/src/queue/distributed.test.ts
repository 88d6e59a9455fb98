// `shrink search --queue` against a real redis-server on 127.0.0.1 with `shrink worker` child processes:
// the same trials and best pick as a local search, a worker killed mid-trial, a search killed and
// restarted, Redis stopped mid-search, poisoned jobs, and passwords kept out of every output.
// Skipped, with the reason, where /usr/bin/redis-server is missing (.ci/run installs it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Job, Queue, Worker } from 'bullmq';
import type { Report } from '@shrink/core';
import { loadModelInput } from '../model-input.js';
import { validateConfig } from '../pipeline/load-config.js';
import { digitsModel } from '../pipeline/pipeline.fixture.js';
import { runSearch } from '../pipeline/search.js';
import { expandTrials } from '../pipeline/search-space.js';
import { stepOf, stepSchema } from '../pipeline/config-schema.js';
import { FolderStore } from './artifact-store.js';
import { planQueue, readTrialJob } from './queue-search.js';
import { ioredisOptions, parseRedisUrl } from './redis-url.js';
import { kill, makeCertificate, shrink, skipReason, startRedis, type RedisServer, type Shrink } from './redis.fixture.js';
import { resultKeyOf } from './trial-job.js';

const quiet = { logger: { debug() {}, info() {}, warn() {} } };
/** The smallest search of search.test.ts: 4 trials of digits-mlp. */
const SPACE = {
  prune: [null, { method: 'structured', sparsity: 0.5 }],
  quantize: [
    { dtype: 'q8', explain: false },
    { dtype: 'q4', explain: false },
  ],
};
const configOf = (output: string, extra: Record<string, unknown> = {}) => ({
  model: 'model.onnx',
  data: { eval: 'digits' },
  evaluation: { runs: 5, warmup: 1 },
  gates: ['accuracy.delta >= -0.05'],
  search: { workers: 2, space: SPACE },
  output,
  ...extra,
});
/** Short locks: a killed worker's trial is taken by another within ~3 s. */
const FAST_LOCKS = ['--lock-duration', '2000', '--stalled-interval', '1000'];

describe('distributed search on BullMQ', { skip: skipReason, timeout: 170_000 }, () => {
  let dir: string;
  let redis: RedisServer;
  const workers: Shrink[] = [];
  const queues: Queue[] = [];
  const worker = (name: string, url = redis.url) => {
    const w = shrink(dir, ['worker', '--queue', url, '--store', path.join(dir, 'store'), '--cache', path.join(dir, name), ...FAST_LOCKS]);
    workers.push(w);
    return w;
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-queue-'));
    await digitsModel(dir);
    redis = await startRedis(dir);
  });
  after(async () => {
    await Promise.all(queues.map((q) => q.close()));
    await Promise.all(workers.map((w) => kill(w.proc, 'SIGKILL')));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('2 worker processes: the same trials, metrics and best pick as the local search; a poisoned job is refused and reported', async () => {
    const [w1, w2] = [worker('w1'), worker('w2')];
    const local = await runSearch(await validateConfig(configOf('out-local'), { file: 'search.yaml', dir }), quiet);
    await Promise.all([w1.waitFor(/waiting for trials/), w2.waitFor(/waiting for trials/)]);

    // A poisoned job under the first trial's id: the search finds it there instead of adding its own.
    const config = await validateConfig(configOf('out-queue'), { file: 'search.yaml', dir });
    const store = new FolderStore(path.join(dir, 'store'));
    const plan = await planQueue(expandTrials(config), config, await loadModelInput(config.model), store);
    const marker = path.join(dir, 'poisoned');
    const queue = new Queue(plan.name, { connection: ioredisOptions(parseRedisUrl(redis.url)) });
    queues.push(queue);
    const target = plan.jobs[0]!;
    await queue.add('poison', { ...target, steps: [{ exec: { cmd: `touch ${marker}` } }] }, { jobId: target.resultKey });
    // A job whose key matches its content, with an option naming a file outside the store.
    const outside = { ...target, name: 'outside', steps: [{ quantize: { dtype: 'q8', calibData: '/etc/passwd' } }] };
    outside.resultKey = resultKeyOf({ ...outside, steps: outside.steps.map((st) => stepOf(stepSchema.parse(st))) });
    await queue.add('outside', outside, { jobId: outside.resultKey });

    const remote = await runSearch(config, quiet, { queue: { url: redis.url, store: path.join(dir, 'store') } });
    const l = local.report.search!;
    const r = remote.report.search!;
    assert.deepEqual(
      r.trials.map((t) => t.name),
      l.trials.map((t) => t.name),
    );
    const poisoned = r.trials[0]!;
    assert.match(poisoned.error ?? '', /refused by schema: steps\.0/);
    assert.equal(existsSync(marker), false, 'nothing of the poisoned job ran');
    const refused = await Job.fromId(queue, outside.resultKey);
    assert.match(refused?.failedReason ?? '', /refused: steps\[0\]\.quantize\.calibData: a path outside the artifact store/);

    // Every other trial: the same numbers as the local search (sizes exact; accuracy and fidelity within
    // 1e-6: the same passes on the same model; onnxruntime thread counts differ, which may reorder sums).
    for (const [i, t] of r.trials.entries()) {
      if (i === 0) continue;
      const lt = l.trials[i]!;
      assert.equal(t.error, undefined, `${t.name}: ${t.error}`);
      assert.equal(t.metrics['size.bytes']!.candidate, lt.metrics['size.bytes']!.candidate, t.name);
      assert.equal(t.metrics['params.nonzero']?.candidate, lt.metrics['params.nonzero']?.candidate, t.name);
      for (const m of ['accuracy', 'fidelity.cosine', 'fidelity.top1Agreement'])
        if (lt.metrics[m]) assert.ok(Math.abs(t.metrics[m]!.candidate! - lt.metrics[m].candidate!) <= 1e-6, `${t.name} ${m}`);
      assert.equal(t.passed, lt.passed, t.name);
    }
    // The best pick among the trials both ran (the local best is t1 when t1 passes: compare without it).
    const best = (s: typeof l) =>
      s.trials
        .slice(1)
        .filter((t) => t.passed)
        .sort((a, b) => a.metrics['size.bytes']!.candidate! - b.metrics['size.bytes']!.candidate!)[0]?.name;
    assert.equal(best(r), best(l));
    assert.equal(r.best, best(r));
    assert.equal(r.workers, 2, 'both worker processes ran trials');
    assert.ok(remote.report.notes.some((n) => /measured again .* main thread/.test(n)));
    for (const c of remote.report.candidates) assert.ok(existsSync(c.path!), c.path);
    // The prefix (the pruning) was computed once, on whichever worker, and reused by the other trial.
    const pruned = remote.report.candidates.filter((c) => c.name.includes('prune'));
    assert.equal(pruned.filter((c) => /reused/.test(c.steps![0]!.notes.join(' '))).length, 1);
  });

  test('a worker SIGKILLed mid-trial: the trial is taken by the other worker and appears once', async () => {
    const [w1, w2] = workers as [Shrink, Shrink];
    // Fine-tuning makes the trial long enough to kill it in the middle.
    const config = await validateConfig(
      configOf('out-kill', {
        data: { eval: 'digits', train: 'digits' },
        search: {
          space: {
            prune: [{ method: 'structured', sparsity: 0.25, finetune: true, epochs: 8 }],
            quantize: [null, { dtype: 'q8', explain: false }],
          },
        },
      }),
      { file: 'kill.yaml', dir },
    );
    const before = [w1.out().length, w2.out().length];
    const search = runSearch(config, quiet, { queue: { url: redis.url, store: path.join(dir, 'store') } });
    const started = await Promise.race([
      w1.waitFor(/t1-prune[^\n]*: start/, 90_000).then(() => w1),
      w2.waitFor(/t1-prune[^\n]*: start/, 90_000).then(() => w2),
    ]);
    // Only a start after this test began counts (the earlier test ran other trials).
    assert.ok(started.out().length > before[workers.indexOf(started)]!);
    await kill(started.proc, 'SIGKILL');
    const survivor = started === w1 ? w2 : w1;
    const { report } = await search;
    const trials = report.search!.trials;
    assert.deepEqual(
      trials.map((t) => t.name),
      ['t1-prune-structured0.25-ft', 't2-prune-structured0.25-ft+q8'],
    );
    for (const t of trials) assert.equal(t.error, undefined, `${t.name}: ${t.error}`);
    assert.match(survivor.out(), /t1-prune-structured0\.25-ft: start \(\S+, attempt \d\)/);
    assert.doesNotMatch(started.out(), /t1-prune-structured0\.25-ft: done/, 'killed before it finished');
    assert.equal(report.candidates.filter((c) => c.name === 't1-prune-structured0.25-ft').length, 1);
  });

  test('the search killed and restarted: it re-attaches and does not run finished trials again', async () => {
    const w = workers.find((x) => x.proc.exitCode === null && x.proc.signalCode === null)!;
    const args = ['search', 'restart.yaml', '--queue', redis.url, '--store', path.join(dir, 'store')];
    writeFileSync(
      path.join(dir, 'restart.yaml'),
      JSON.stringify(
        configOf('out-restart', {
          data: { eval: 'digits', train: 'digits' },
          search: {
            space: {
              prune: [null, { method: 'magnitude', sparsity: 0.3, finetune: true, epochs: 2 }],
              quantize: [
                { dtype: 'q8', explain: false },
                { dtype: 'fp16', explain: false },
              ],
            },
          },
        }),
      ),
    );
    const from = w.out().length;
    const first = shrink(dir, args);
    await first.waitFor(/[1-3]\/4 done/, 120_000);
    await kill(first.proc, 'SIGKILL');
    const second = shrink(dir, args);
    assert.equal(await second.exited, 0, second.out());
    assert.match(second.out(), /search: 4 trials on queue shrink-restart-/);
    const ran =
      w
        .out()
        .slice(from)
        .match(/: (t\d-[^:\n]+): start/g) ?? [];
    assert.equal(ran.length, 4, `each trial ran once: ${ran.join(', ')}`);
    assert.equal(new Set(ran).size, 4);
    const report = JSON.parse(readFileSync(path.join(dir, 'out-restart', 'report.json'), 'utf8')) as Report;
    assert.equal(report.search!.trials.length, 4);
    for (const t of report.search!.trials) assert.equal(t.error, undefined, `${t.name}: ${t.error}`);
  });
});

describe('Redis with a password, stopped mid-search', { skip: skipReason, timeout: 120_000 }, () => {
  const PASSWORD = 'pw-Zq81x%top';
  let dir: string;
  let redis: RedisServer;
  let w: Shrink | undefined;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-queue-pw-'));
    await digitsModel(dir);
    redis = await startRedis(dir, PASSWORD);
  });
  after(async () => {
    if (w) await kill(w.proc, 'SIGKILL');
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const leaks = (text: string) => text.includes(PASSWORD) || text.includes(encodeURIComponent(PASSWORD));

  test('a wrong password: one line, exit 2, the password not repeated', async () => {
    const bad = redis.url.replace(encodeURIComponent(PASSWORD), 'wrong-Secret');
    const r = shrink(dir, ['worker', '--queue', bad, '--store', path.join(dir, 'store')]);
    assert.equal(await r.exited, 2);
    assert.match(r.out(), /^shrink: --queue: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: .*WRONGPASS/m);
    assert.ok(!r.out().includes('wrong-Secret'), r.out());
  });

  test('the time budget: with no worker, every trial is reported as failed once the budget is spent', async () => {
    const config = await validateConfig(configOf('out-budget', { search: { space: { quantize: [{ dtype: 'q8', explain: false }] } } }), {
      file: 'budget.yaml',
      dir,
    });
    await assert.rejects(
      runSearch(config, quiet, { queue: { url: redis.url, store: path.join(dir, 'store'), timeBudget: 1 } }),
      /every trial failed to run \(first: t1-q8: no result within the time budget \(1 s\)\)/,
    );
  });

  test('a search through a password: nothing prints or writes it; Redis stopped: one clear line within the timeout', async () => {
    w = shrink(dir, ['worker', '--queue', redis.url, '--store', path.join(dir, 'store'), '--cache', path.join(dir, 'wc')]);
    await w.waitFor(/waiting for trials/);
    writeFileSync(
      path.join(dir, 'one.yaml'),
      JSON.stringify(configOf('out-one', { search: { space: { quantize: [{ dtype: 'q8', explain: false }] } } })),
    );
    const ok = shrink(dir, ['search', 'one.yaml', '--queue', redis.url, '--store', path.join(dir, 'store')]);
    assert.equal(await ok.exited, 0, ok.out());
    const written = readdirSync(path.join(dir, 'out-one'))
      .filter((f) => f.startsWith('report.'))
      .map((f) => readFileSync(path.join(dir, 'out-one', f), 'utf8'));
    for (const text of [ok.out(), w.out(), ...written]) assert.ok(!leaks(text), text.slice(0, 2000));
    assert.match(ok.out(), /redis:\/\/:\*\*\*@127\.0\.0\.1/);

    // No worker now: the trials stay queued, then Redis goes away for good.
    await kill(w.proc, 'SIGTERM');
    writeFileSync(path.join(dir, 'lost.yaml'), JSON.stringify(configOf('out-lost')));
    const lost = shrink(dir, ['search', 'lost.yaml', '--queue', redis.url, '--store', path.join(dir, 'store'), '--redis-timeout', '3']);
    await lost.waitFor(/\d queued, 0 running, 0\/4 done/);
    const t0 = Date.now();
    await redis.stop();
    const code = await lost.exited;
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(code, 2, lost.out());
    // 3 s of --redis-timeout, plus at most one 5 s round and closing: well under 20 s.
    assert.ok(seconds < 20, `ended after ${seconds} s`);
    const last = lost.out().trim().split('\n').at(-1)!;
    assert.match(
      last,
      /^shrink: queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: Redis unreachable for \d+ s mid-search .*lost: 4 unfinished trial\(s\) \(t1-q8, /,
    );
    assert.ok(!leaks(lost.out()), lost.out());
  });
});

describe('rediss:// (TLS) with a password', { skip: skipReason, timeout: 90_000 }, () => {
  let dir: string;
  let redis: RedisServer;
  let w: Shrink | undefined;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-queue-tls-'));
    await digitsModel(dir);
    env = { NODE_EXTRA_CA_CERTS: makeCertificate(dir) };
    redis = await startRedis(dir, 'tls-Secret-77', true);
  });
  after(async () => {
    if (w) await kill(w.proc, 'SIGKILL');
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a worker and a search over TLS: the trial runs, the password is never printed', async () => {
    assert.match(redis.url, /^rediss:/);
    w = shrink(dir, ['worker', '--queue', redis.url, '--store', path.join(dir, 'store'), '--cache', path.join(dir, 'wc')], env);
    await w.waitFor(/waiting for trials/);
    writeFileSync(
      path.join(dir, 'tls.yaml'),
      JSON.stringify(configOf('out-tls', { search: { space: { quantize: [{ dtype: 'q8', explain: false }] } } })),
    );
    const s = shrink(dir, ['search', 'tls.yaml', '--queue', redis.url, '--store', path.join(dir, 'store')], env);
    assert.equal(await s.exited, 0, s.out());
    assert.match(s.out(), /on queue shrink-tls-\w+ at rediss:\/\/:\*\*\*@127\.0\.0\.1/);
    assert.match(w.out(), /t1-q8: done/);
    for (const text of [s.out(), w.out(), readFileSync(path.join(dir, 'out-tls', 'report.json'), 'utf8')])
      assert.ok(!text.includes('tls-Secret-77'));
  });
});

describe('Redis restarted empty mid-search', { skip: skipReason, timeout: 120_000 }, () => {
  let dir: string;
  let redis: RedisServer;
  let w: Shrink | undefined;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-queue-restart-'));
    await digitsModel(dir);
    redis = await startRedis(dir);
  });
  after(async () => {
    if (w) await kill(w.proc, 'SIGKILL');
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the search puts the lost trials on the queue again and finishes, each trial once in the report', async () => {
    w = shrink(dir, ['worker', '--queue', redis.url, '--store', path.join(dir, 'store'), '--cache', path.join(dir, 'wc')]);
    await w.waitFor(/waiting for trials/);
    writeFileSync(path.join(dir, 'again.yaml'), JSON.stringify(configOf('out-again')));
    const s = shrink(dir, ['search', 'again.yaml', '--queue', redis.url, '--store', path.join(dir, 'store'), '--redis-timeout', '30']);
    await s.waitFor(/[1-3]\/4 done/, 90_000);
    await redis.stop();
    await new Promise((r) => setTimeout(r, 1000));
    redis = await startRedis(dir, undefined, false, redis.port);
    assert.equal(await s.exited, 0, s.out());
    assert.match(s.out(), /is no longer on the queue; putting it again/);
    const report = JSON.parse(readFileSync(path.join(dir, 'out-again', 'report.json'), 'utf8')) as Report;
    assert.deepEqual(
      report.search!.trials.map((t) => t.name),
      ['t1-q8', 't2-q4', 't3-prune-structured0.5+q8', 't4-prune-structured0.5+q4'],
    );
    for (const t of report.search!.trials) assert.equal(t.error, undefined, `${t.name}: ${t.error}`);
  });
});

describe(
  'races: a trial completing while the search reads it, a worker frozen past its lock',
  { skip: skipReason, timeout: 120_000 },
  () => {
    let dir: string;
    let redis: RedisServer;
    const procs: Shrink[] = [];
    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-queue-race-'));
      await digitsModel(dir);
      redis = await startRedis(dir);
    });
    after(async () => {
      for (const p of procs) p.proc.kill('SIGCONT');
      await Promise.all(procs.map((p) => kill(p.proc, 'SIGKILL')));
      await redis?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    // The bench's "result refused by schema: (job): expected object, received null": the search read a job
    // while it was active (no result yet) and then its state once it had completed. Many short jobs finish
    // while a reader polls them, so the window is hit often (reading the job before its state, as the search
    // did, hit it 27 times in these 200 jobs); readTrialJob must never give a completed job without its result.
    test('readTrialJob: a completed job always comes with its result, however the reads interleave', async () => {
      const connection = ioredisOptions(parseRedisUrl(redis.url));
      const queue = new Queue('shrink-race', { connection });
      const ids = Array.from({ length: 200 }, (_, n) => `job-${n}`);
      await queue.addBulk(ids.map((id, n) => ({ name: id, data: { n }, opts: { jobId: id } })));
      // Jobs of 5-11 ms, taken in order: the reader polls the first unfinished ones, mostly active ones.
      const processor = async (job: Job<{ n: number }>) => {
        await new Promise((r) => setTimeout(r, 5 + (job.data.n % 7)));
        return { n: job.data.n };
      };
      const worker = new Worker('shrink-race', processor, { connection, concurrency: 2 });
      try {
        const seen = new Set<string>();
        let reads = 0;
        while (seen.size < ids.length) {
          for (const id of ids.filter((x) => !seen.has(x)).slice(0, 6)) {
            const { job, state } = await readTrialJob(queue, id);
            reads++;
            if (state !== 'completed') continue;
            assert.deepEqual(job?.returnvalue, { n: Number(id.slice(4)) }, `${id}: completed without its result`);
            seen.add(id);
          }
        }
        assert.ok(reads > 2 * ids.length, `jobs were read while active (${reads} reads)`);
      } finally {
        await worker.close();
        await queue.close();
      }
    });

    test('a worker frozen (SIGSTOP) past its lock: the other worker runs the trial; it appears once, not failed, when the frozen one wakes', async () => {
      const store = path.join(dir, 'store');
      const start = (name: string) => {
        const w = shrink(dir, ['worker', '--queue', redis.url, '--store', store, '--cache', path.join(dir, name), ...FAST_LOCKS]);
        procs.push(w);
        return w;
      };
      const [a, b] = [start('a'), start('b')];
      await Promise.all([a.waitFor(/waiting for trials/), b.waitFor(/waiting for trials/)]);
      const config = await validateConfig(
        configOf('out-frozen', {
          data: { eval: 'digits', train: 'digits' },
          search: { space: { prune: [{ method: 'structured', sparsity: 0.25, finetune: true, epochs: 8 }] } },
        }),
        { file: 'frozen.yaml', dir },
      );
      const search = runSearch(config, quiet, { queue: { url: redis.url, store } });
      const started = /t1-prune-structured0\.25-ft: start/;
      const first = await Promise.race([a.waitFor(started, 60_000).then(() => a), b.waitFor(started, 60_000).then(() => b)]);
      const other = first === a ? b : a;
      // Frozen: no lock renewal, as when training holds the event loop past the lock; the lock (2 s) lapses.
      first.proc.kill('SIGSTOP');
      await other.waitFor(started, 30_000);
      first.proc.kill('SIGCONT');
      const { report } = await search;
      const trials = report.search!.trials;
      assert.deepEqual(
        trials.map((t) => t.name),
        ['t1-prune-structured0.25-ft'],
      );
      assert.equal(trials[0]!.error, undefined, trials[0]!.error);
      assert.equal(report.candidates.filter((c) => c.name === 't1-prune-structured0.25-ft').length, 1);
    });
  },
);

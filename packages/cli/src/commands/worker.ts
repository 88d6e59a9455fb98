import os from 'node:os';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { isShrinkError, ShrinkError, type Logger } from '@shrink/core';
import { stderrLogger } from '../progress.js';
import type { ArgsOf, GlobalArgs } from '../output.js';

const builder = (y: Argv<GlobalArgs>) =>
  y
    .option('queue', {
      type: 'string',
      demandOption: true,
      describe: 'Redis of the searches: redis://[user:password@]host[:port][/db], or rediss:// for TLS (default env SHRINK_QUEUE)',
      default: process.env['SHRINK_QUEUE'],
      defaultDescription: '$SHRINK_QUEUE',
    })
    .option('store', {
      type: 'string',
      describe:
        'Artifact store shared with the searches: a folder, or s3://bucket/prefix (default $SHRINK_STORE, else ~/.cache/shrink/queue-store)',
    })
    .option('concurrency', {
      type: 'number',
      default: 1,
      describe: 'Trials this process runs at once (onnxruntime threads = cores / concurrency)',
    })
    .option('cache', { type: 'string', describe: 'Local folder for artifacts and work files (default ~/.cache/shrink/worker)' })
    // Generous: the lock is renewed from a timer, which waits while tfjs training holds the event loop
    // (seconds at a time on a loaded machine); a lapsed lock hands a live trial to a second worker.
    .option('lock-duration', {
      type: 'number',
      default: 120_000,
      describe:
        'Milliseconds a trial stays locked without a sign of life from this worker before another takes it (renewed from the event loop, which training holds for seconds)',
    })
    .option('stalled-interval', { type: 'number', default: 30_000, describe: 'Milliseconds between looks for trials whose worker died' });
type Args = ArgsOf<typeof builder>;

export const workerCommand: CommandModule<GlobalArgs, Args> = {
  command: 'worker',
  describe:
    'Run search trials from a Redis queue (shrink search --queue) until stopped (Ctrl-C / SIGTERM): any number of machines, sharing an artifact store (docs/distributed.md)',
  builder,
  handler: async (argv) => {
    const { parseRedisUrl, redactor } = await import('../queue/redis-url.js');
    if (argv.queue === undefined || argv.queue === '') throw new ShrinkError('INVALID_ARGUMENT', '--queue: required (redis://host:port)');
    const redis = parseRedisUrl(argv.queue);
    const redact = redactor([redis.password]);
    for (const [flag, v, min] of [
      ['--concurrency', argv.concurrency, 1],
      ['--lock-duration', argv.lockDuration, 100],
      ['--stalled-interval', argv.stalledInterval, 100],
    ] as const)
      if (!(Number.isInteger(v) && v >= min)) throw new ShrinkError('INVALID_ARGUMENT', `${flag}: must be an integer >= ${min}, got ${v}`);
    const base = stderrLogger(argv.verbose === true, false);
    const log: Logger = { debug: (m) => base.debug(redact(m)), info: (m) => base.info(redact(m)), warn: (m) => base.warn(redact(m)) };
    const [{ openStore }, { runQueueWorker }, { probeRedis }] = await Promise.all([
      import('../queue/artifact-store.js'),
      import('../queue/queue-worker.js'),
      import('../queue/probe-redis.js'),
    ]);
    const store = openStore(argv.store);
    // Refuse an unreachable or wrongly authenticated Redis in one line, rather than retrying quietly forever.
    await probeRedis(redis, redact, '--queue');
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await runQueueWorker(
        {
          redis,
          store,
          concurrency: argv.concurrency,
          cacheDir: path.resolve(argv.cache ?? path.join(os.homedir(), '.cache', 'shrink', 'worker')),
          lockDuration: argv.lockDuration,
          stalledInterval: argv.stalledInterval,
          log,
          redact,
        },
        stop.signal,
      );
    } catch (e) {
      if (isShrinkError(e)) throw new ShrinkError(e.code, redact(e.message));
      throw new ShrinkError('RUNTIME', `worker: ${redact(e instanceof Error ? e.message : String(e))}`);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

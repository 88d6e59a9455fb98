import type { Argv, CommandModule } from 'yargs';
import { ShrinkError } from '@shrink/core';
import { ctxFromArgs, type ArgsOf, type GlobalArgs } from '../output.js';
import { OBJECTIVES } from '../pipeline/config-schema.js';
import { loadConfig } from '../pipeline/load-config.js';
import { queueSettingsOf, runSearch } from '../pipeline/search.js';
import { reportOutcome } from './run.js';

const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('config', {
      type: 'string',
      demandOption: true,
      describe: 'Pipeline config file (see docs/pipelines.md); its search block, if any, sets the space',
    })
    .option('output', { alias: 'o', type: 'string', describe: "Output folder (default: the config's output, relative to the config file)" })
    .option('workers', { type: 'number', describe: 'Worker threads running trials (default: search.workers, else min(2, cores))' })
    .option('objective', {
      choices: OBJECTIVES,
      describe: 'Best trial: smallest file (size) or lowest latency (latency); default search.objective, else size',
    })
    .option('queue', {
      type: 'string',
      describe:
        'Run the trials on `shrink worker` processes through Redis: redis://[user:password@]host[:port][/db] or rediss:// (default search.queue)',
    })
    .option('store', { type: 'string', describe: 'With --queue: artifact store shared with the workers, a folder or s3://bucket/prefix' })
    .option('time-budget', { type: 'number', describe: 'With --queue: seconds after which trials without a result are reported as failed' })
    .option('redis-timeout', {
      type: 'number',
      describe: 'With --queue: seconds Redis may be unreachable before the search gives up (default 30)',
    });
type Args = ArgsOf<typeof builder>;

export const searchCommand: CommandModule<GlobalArgs, Args> = {
  command: 'search <config>',
  describe:
    "Accuracy-aware search: try the config's search space (or a built-in one) in parallel worker threads; the smallest or fastest model passing every gate, Pareto fronts, all trials in the report. Exit 1 when no trial passes",
  builder,
  handler: async (argv) => {
    if (argv.workers !== undefined && !(Number.isInteger(argv.workers) && argv.workers >= 1)) {
      throw new ShrinkError('INVALID_ARGUMENT', `--workers: must be an integer >= 1, got ${argv.workers}`);
    }
    for (const [flag, v] of [
      ['--time-budget', argv.timeBudget],
      ['--redis-timeout', argv.redisTimeout],
    ] as const)
      if (v !== undefined && !(Number.isFinite(v) && v > 0))
        throw new ShrinkError('INVALID_ARGUMENT', `${flag}: must be a number > 0, got ${v}`);
    const config = await loadConfig(argv.config, { search: true, ...(argv.output !== undefined ? { output: argv.output } : {}) });
    const fromConfig = queueSettingsOf(config.search?.queue);
    const url = argv.queue ?? fromConfig?.url;
    const queue =
      url === undefined
        ? undefined
        : {
            ...fromConfig,
            url,
            from: argv.queue !== undefined ? '--queue' : (fromConfig?.from ?? 'search.queue'),
            ...(argv.store !== undefined ? { store: argv.store } : {}),
            ...(argv.timeBudget !== undefined ? { timeBudget: argv.timeBudget } : {}),
            ...(argv.redisTimeout !== undefined ? { redisTimeout: argv.redisTimeout } : {}),
          };
    if (queue === undefined && (argv.store ?? argv.timeBudget ?? argv.redisTimeout) !== undefined)
      throw new ShrinkError('INVALID_ARGUMENT', '--store, --time-budget and --redis-timeout go with --queue (or search.queue)');
    const result = await runSearch(config, ctxFromArgs(argv), {
      ...(argv.workers !== undefined ? { workers: argv.workers } : {}),
      ...(argv.objective !== undefined ? { objective: argv.objective } : {}),
      ...(queue ? { queue } : {}),
    });
    reportOutcome(argv, config, result);
  },
};

import type { Argv, CommandModule } from 'yargs';
import { ShrinkError } from '@shrink/core';
import { ctxFromArgs, type ArgsOf, type GlobalArgs } from '../output.js';
import { OBJECTIVES } from '../pipeline/config-schema.js';
import { loadConfig } from '../pipeline/load-config.js';
import { runSearch } from '../pipeline/search.js';
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
    const config = await loadConfig(argv.config, { search: true, ...(argv.output !== undefined ? { output: argv.output } : {}) });
    const result = await runSearch(config, ctxFromArgs(argv), {
      ...(argv.workers !== undefined ? { workers: argv.workers } : {}),
      ...(argv.objective !== undefined ? { objective: argv.objective } : {}),
    });
    reportOutcome(argv, config, result);
  },
};

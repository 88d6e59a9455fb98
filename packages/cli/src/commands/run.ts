import type { CommandModule } from 'yargs';
import { ShrinkError } from '@shrink/core';
import { renderTable } from '@shrink/core/terminal';
import { ctxFromArgs, type GlobalArgs } from '../output.js';
import { configJsonSchema } from '../pipeline/config-schema.js';
import { loadConfig, type PipelineConfig } from '../pipeline/load-config.js';
import { describeFailedGate } from '../pipeline/gates.js';
import { runPipeline, type PipelineResult } from '../pipeline/run-pipeline.js';

interface Args extends GlobalArgs {
  config?: string;
  output?: string;
  printSchema?: boolean;
}

export const runCommand: CommandModule<GlobalArgs, Args> = {
  command: 'run [config]',
  describe: 'Run a pipeline config (YAML or JSON): steps, measurement, gates; models and report.{json,md,html,txt} in the output folder. Exit 1 when a gate fails',
  builder: (y) =>
    y
      .positional('config', { type: 'string', describe: 'Pipeline config file (see docs/pipelines.md)' })
      .option('output', { alias: 'o', type: 'string', describe: "Output folder (default: the config's output, relative to the config file)" })
      .option('print-schema', { type: 'boolean', describe: 'Print the JSON Schema of the config file and exit' }) as never,
  handler: async (argv) => {
    if (argv.printSchema === true) {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      return;
    }
    if (argv.config === undefined) throw new ShrinkError('INVALID_ARGUMENT', 'run: name a config file, e.g. `shrink run shrink.config.yaml` (or --print-schema)');
    const config = await loadConfig(argv.config, argv.output !== undefined ? { output: argv.output } : {});
    const result = await runPipeline(config, ctxFromArgs(argv));
    reportOutcome(argv, config, result);
  },
};

/**
 * Prints the outcome of a pipeline or search: the table (or JSON) on stdout, each failed gate on stderr,
 * and exit status 1 when any gate failed (the table is still printed: CI logs want both).
 */
export function reportOutcome(argv: GlobalArgs, config: PipelineConfig, result: PipelineResult): void {
  const { report, failed } = result;
  if (argv.json === true) {
    process.stdout.write(`${JSON.stringify({ output: config.output, files: result.files, report }, null, 2)}\n`);
  } else {
    const gates = (report.gates ?? []).map((g) => `${g.passed ? 'PASS' : 'FAIL'}  ${g.expression}`);
    process.stdout.write([renderTable(report), ...(gates.length ? [gates.join('\n')] : []), `wrote ${result.files.map((f) => f).join(', ')}`].join('\n\n') + '\n');
  }
  if (failed.length === 0) return;
  for (const g of failed) process.stderr.write(`${describeFailedGate(g)}\n`);
  // GATE_FAILED is the one error that exits 1: the build broke a budget, the input was fine.
  throw new ShrinkError('GATE_FAILED', `${failed.length} of ${report.gates?.length ?? failed.length} gate(s) failed; report in ${config.output}`);
}

import type { Argv, CommandModule } from 'yargs';
import Table from 'cli-table3';
import { formatChange, formatRatio, ShrinkError, type SearchRecord } from '@shrink/core';
import { renderTable } from '@shrink/core/terminal';
import { ctxFromArgs, type ArgsOf, type GlobalArgs } from '../output.js';
import { configJsonSchema } from '../pipeline/config-schema.js';
import { loadConfig, type PipelineConfig } from '../pipeline/load-config.js';
import { describeFailedGate } from '../pipeline/gates.js';
import { runPipeline, type PipelineResult } from '../pipeline/run-pipeline.js';

const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('config', { type: 'string', describe: 'Pipeline config file (see docs/pipelines.md)' })
    .option('output', { alias: 'o', type: 'string', describe: "Output folder (default: the config's output, relative to the config file)" })
    .option('print-schema', { type: 'boolean', describe: 'Print the JSON Schema of the config file and exit' })
    .option('allow-degraded', {
      type: 'boolean',
      describe: "Keep a final model that fails the fidelity guard (as the config's evaluation.allowDegraded); the report marks it FAILED",
    });
type Args = ArgsOf<typeof builder>;

export const runCommand: CommandModule<GlobalArgs, Args> = {
  command: 'run [config]',
  describe:
    'Run a pipeline config (YAML or JSON): steps, measurement, gates; models and report.{json,md,html,txt} in the output folder. Exit 1 when a gate fails',
  builder,
  handler: async (argv) => {
    if (argv.printSchema === true) {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      return;
    }
    if (argv.config === undefined)
      throw new ShrinkError('INVALID_ARGUMENT', 'run: name a config file, e.g. `shrink run shrink.config.yaml` (or --print-schema)');
    const config = await loadConfig(argv.config, argv.output !== undefined ? { output: argv.output } : {});
    if (argv.allowDegraded === true) config.evaluation.allowDegraded = true;
    const result = await runPipeline(config, ctxFromArgs(argv));
    reportOutcome(argv, config, result);
  },
};

function searchSummary(s: SearchRecord): string {
  const t = new Table({
    head: ['trial', 'verdict', 'size ratio', 'latency ratio', 'accuracy change', 'seconds'],
    style: { head: [], border: [] },
  });
  const ratio = (v: number | undefined) => (v === undefined ? '-' : formatRatio(v));
  for (const r of s.trials) {
    const acc = r.metrics['accuracy'];
    t.push([
      r.name === s.best ? `${r.name} (best)` : r.name,
      r.error !== undefined ? `error: ${r.error.slice(0, 60)}` : r.passed ? 'pass' : `fails ${r.failedGates.join('; ')}`,
      ratio(r.metrics['size.bytes']?.ratio),
      ratio(r.metrics['latency.p50']?.ratio),
      acc?.delta !== undefined ? formatChange(acc) : '-',
      r.seconds.toFixed(1),
    ]);
  }
  const front = Object.entries(s.pareto).map(([k, v]) => `Pareto ${k}: ${v.join(', ') || '-'}`);
  return [
    `search: ${s.trials.length} trials on ${s.workers} worker(s) in ${s.seconds.toFixed(1)} s; ${s.objective}: ${s.best ?? 'none passed'}`,
    t.toString(),
    ...front,
  ].join('\n');
}

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
    const search = report.search ? [searchSummary(report.search)] : [];
    process.stdout.write(
      [renderTable(report), ...search, ...(gates.length ? [gates.join('\n')] : []), `wrote ${result.files.join(', ')}`].join('\n\n') + '\n',
    );
  }
  if (failed.length === 0) return;
  for (const g of failed) process.stderr.write(`${describeFailedGate(g)}\n`);
  // GATE_FAILED is the one error that exits 1: the build broke a budget, the input was fine.
  throw new ShrinkError(
    'GATE_FAILED',
    `${failed.length} of ${report.gates?.length ?? failed.length} gate(s) failed; report in ${config.output}`,
  );
}

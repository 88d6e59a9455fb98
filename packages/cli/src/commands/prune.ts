import path from 'node:path';
import type { CommandModule } from 'yargs';
import { refuseDegraded, ShrinkError } from '@shrink/core';
import { renderTable } from '@shrink/core/terminal';
import { saveModelChecked } from '@shrink/core/io';
import { resolveSplit } from '@shrink/core/data';
import { compareModels } from '@shrink/core/runtime';
import { pruneOptionsSchema } from '@shrink/prune';
import { pruneModel, type FineTuneSettings } from '@shrink/prune/runtime';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type GlobalArgs } from '../output.js';
import { ensureDir, outputPath, refuseExisting } from '../paths.js';
import { evalData } from '../data-arg.js';
import { flagsFromSchema, optionsFromArgv } from '../schema-flags.js';
import { dataFlag, guardFlag, profileOptions, runFlags, type GuardArgs, type RunArgs } from './common-flags.js';
import { checkRunArgs } from './check-run-args.js';
import { baselineUnderTest } from '../pipeline/run-pipeline.js';

interface Args extends GlobalArgs, RunArgs, GuardArgs {
  model: string;
  output?: string;
  force?: boolean;
  schedule?: 'cubic' | 'constant';
  epochs?: number;
  finetune?: boolean;
}

export const pruneCommand: CommandModule<GlobalArgs, Args> = {
  command: 'prune <model>',
  describe: 'Prune an ONNX model (magnitude, N:M, structured), optionally gradually with fine-tuning; measure baseline vs pruned',
  builder: (y) =>
    dataFlag(
      runFlags(
        guardFlag(flagsFromSchema(y.positional('model', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' }), pruneOptionsSchema))
          .option('schedule', { choices: ['cubic', 'constant'] as const, describe: 'Prune gradually during fine-tuning (Zhu & Gupta cubic, or constant); needs --data and --epochs' })
          .option('epochs', { type: 'number', describe: 'Fine-tuning epochs (with --schedule or --finetune)' })
          .option('finetune', { type: 'boolean', describe: 'One-shot prune, then fine-tune with the zeros kept fixed (needs --data)' })
          .option('output', { alias: 'o', type: 'string', describe: 'Output .onnx path (default: model_pruned.onnx beside the input)' })
          .option('force', { type: 'boolean', describe: 'Allow replacing an existing output file' }),
      ),
      false,
    ) as never,
  handler: async (argv) => {
    checkRunArgs(argv);
    const ctx = ctxFromArgs(argv);
    const options = optionsFromArgv(pruneOptionsSchema, argv, 'prune');
    const input = await loadModelInput(argv.model, ctx);
    const training = argv.schedule !== undefined || argv.finetune === true;
    if (training && argv.data === undefined) throw new ShrinkError('INVALID_ARGUMENT', `--${argv.schedule ? 'schedule' : 'finetune'} needs --data to train on`);
    if (argv.epochs !== undefined && (!Number.isInteger(argv.epochs) || argv.epochs < 1)) {
      throw new ShrinkError('INVALID_ARGUMENT', `--epochs: must be an integer >= 1, got ${argv.epochs}`);
    }
    const data = argv.data !== undefined ? await evalData(argv.data, argv.split) : undefined;
    const fineTune: FineTuneSettings | undefined = training
      ? { ...(await resolveSplit(argv.data!)), epochs: argv.epochs ?? 3, ...(argv.schedule ? { schedule: argv.schedule } : {}) }
      : undefined;
    const target = argv.output !== undefined ? outputPath(argv.output) : path.join(path.dirname(path.resolve(input.path)), 'model_pruned.onnx');
    await refuseExisting(target, argv.force === true);
    const result = await pruneModel(input.model, options, fineTune, ctx);
    await ensureDir(path.dirname(target));
    // Measured where it is staged: a failed measurement (exit 2) leaves the old output byte for byte.
    const { saved, value: cmp } = await saveModelChecked(result.model, target, { force: argv.force === true, inputs: input.inputs }, async (staged) => {
      const c = await compareModels(
        baselineUnderTest(input),
        [{ name: path.basename(target), model: result.model, path: staged.path, diskBytes: staged.bytes }],
        profileOptions(argv, data),
        ctx,
      );
      refuseDegraded(c.report.candidates, { allow: argv.allowDegraded === true });
      return c;
    });
    const cand = cmp.report.candidates[0]!;
    cand.path = saved.path;
    cand.notes = [...(cand.notes ?? []), ...result.report.notes];
    emit(argv, { output: saved.path, pruning: result.report, report: cmp.report }, () =>
      [
        renderTable(cmp.report),
        result.report.layers.map((l) => `${l.name} (${l.opType}): ${l.action}${l.reason ? ` — ${l.reason}` : ''}${l.sparsity !== undefined ? `, sparsity ${(l.sparsity * 100).toFixed(1)}%` : ''}${l.unitsRemoved !== undefined ? `, ${l.unitsRemoved} units removed, ${l.unitsKept} kept` : ''}`).join('\n'),
        `wrote ${saved.path}`,
      ].join('\n\n'),
    );
  },
};

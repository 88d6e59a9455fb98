import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { PruneReport } from '@shrink/prune';
import { prunePass } from '@shrink/prune/pass';
import type { ArgsOf, GlobalArgs } from '../output.js';
import { passBuilder, runPassCommand } from './pass-command.js';

const builder = (y: Argv<GlobalArgs>) =>
  passBuilder(y, prunePass.schema).option('output', {
    alias: 'o',
    type: 'string',
    describe: 'Output .onnx path (default: model_pruned.onnx beside the input)',
  });

type Args = ArgsOf<typeof builder>;

export const pruneCommand: CommandModule<GlobalArgs, Args> = {
  command: 'prune <model>',
  describe: 'Prune an ONNX model (magnitude, N:M, structured), optionally gradually with fine-tuning; measure baseline vs pruned',
  builder,
  handler: (argv) =>
    runPassCommand(prunePass, argv, {
      defaultOutput: (input) => path.join(path.dirname(path.resolve(input.path)), 'model_pruned.onnx'),
      lines: (out) => {
        const r = (out.report as { pruning: PruneReport }).pruning;
        return [
          r.layers
            .map(
              (l) =>
                `${l.name} (${l.opType}): ${l.action}${l.reason ? ` — ${l.reason}` : ''}${l.sparsity !== undefined ? `, sparsity ${(l.sparsity * 100).toFixed(1)}%` : ''}${l.unitsRemoved !== undefined ? `, ${l.unitsRemoved} units removed, ${l.unitsKept} kept` : ''}`,
            )
            .join('\n'),
        ];
      },
    }),
};

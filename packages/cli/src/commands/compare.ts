import type { CommandModule } from 'yargs';
import { renderTable } from '@shrink/core/terminal';
import { compareModels } from '@shrink/core/runtime';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type GlobalArgs } from '../output.js';
import { evalData } from '../data-arg.js';
import { dataFlag, profileOptions, runFlags, type RunArgs } from './common-flags.js';
import { checkRunArgs } from './check-run-args.js';

interface Args extends GlobalArgs, RunArgs {
  a: string;
  b: string;
}

export const compareCommand: CommandModule<GlobalArgs, Args> = {
  command: 'compare <a> <b>',
  describe: 'Side-by-side table of A (baseline) and B: deltas, ratios, fidelity; latency interleaved in one run',
  builder: (y) =>
    dataFlag(
      runFlags(
        y
          .positional('a', { type: 'string', demandOption: true, describe: 'Baseline model' })
          .positional('b', { type: 'string', demandOption: true, describe: 'Candidate model' }),
      ),
      false,
    ) as never,
  handler: async (argv) => {
    checkRunArgs(argv);
    const ctx = ctxFromArgs(argv);
    const [a, b] = [await loadModelInput(argv.a, ctx), await loadModelInput(argv.b, ctx)];
    const data = argv.data !== undefined ? await evalData(argv.data, argv.split) : undefined;
    const asTest = (m: typeof a) => ({
      name: m.path,
      model: m.model,
      ...(m.onnxPath ? { path: m.onnxPath } : {}),
      diskBytes: m.diskBytes,
    });
    const cmp = await compareModels(
      asTest(a),
      [asTest(b)],
      profileOptions(argv, data),
      ctx,
    );
    const fid = cmp.candidates[0]?.fidelity;
    emit(argv, { report: cmp.report, fidelity: fid ?? null }, () => renderTable(cmp.report));
  },
};

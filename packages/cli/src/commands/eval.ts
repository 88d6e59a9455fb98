import type { CommandModule } from 'yargs';
import { createSession, evaluate } from '@shrink/core/runtime';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type GlobalArgs } from '../output.js';
import { evalData } from '../data-arg.js';
import { dataFlag } from './common-flags.js';
import { checkRunArgs } from './check-run-args.js';

interface Args extends GlobalArgs {
  model: string;
  data: string;
  batch: number;
  threads?: number;
  split?: 'train' | 'test' | 'all';
}

export const evalCommand: CommandModule<GlobalArgs, Args> = {
  command: 'eval <model>',
  describe: 'Accuracy (classification) or MSE/MAE (regression) of a model on data, in onnxruntime',
  builder: (y) =>
    dataFlag(y.positional('model', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' }), true)
      .option('batch', { type: 'number', default: 64, describe: 'Samples per run' })
      .option('threads', { type: 'number', describe: 'onnxruntime intra-op threads' }) as never,
  handler: async (argv) => {
    checkRunArgs({ batch: argv.batch, runs: 1, warmup: 0, ...(argv.threads !== undefined ? { threads: argv.threads } : {}) });
    const ctx = ctxFromArgs(argv);
    const input = await loadModelInput(argv.model, ctx);
    const data = await evalData(argv.data, argv.split);
    const session = await createSession(input.onnxPath ?? input.model, { ...(argv.threads !== undefined ? { threads: argv.threads } : {}), label: argv.model }, ctx);
    const r = await evaluate(session, data, { batch: argv.batch }, ctx).finally(() => session.release());
    emit(argv, { path: input.path, data: data.name, ...r }, () =>
      r.task === 'classification'
        ? `accuracy ${(r.accuracy * 100).toFixed(2)}% (${r.correct}/${r.n}) on ${data.name}`
        : `MSE ${r.mse.toPrecision(5)}, MAE ${r.mae.toPrecision(5)} on ${data.name} (${r.n} samples)`,
    );
  },
};

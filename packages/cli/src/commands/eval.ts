import type { Argv, CommandModule } from 'yargs';
import { parseOptions } from '@shrink/core';
import { createSession, evaluate } from '@shrink/core/runtime';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type ArgsOf, type GlobalArgs } from '../output.js';
import { evalData } from '../data-arg.js';
import { dataFlag } from './common-flags.js';
import { measureOptionsSchema } from '../measure-options.js';

/** Scoring runs in batches: --batch means samples per run here, 64 unless told. */
const evalOptionsSchema = measureOptionsSchema
  .pick({ threads: true })
  .extend({ batch: measureOptionsSchema.shape.batch.unwrap().default(64) });

const builder = (y: Argv<GlobalArgs>) =>
  dataFlag(y.positional('model', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' }), true)
    .option('batch', { type: 'number', default: 64, describe: 'Samples per run' })
    .option('threads', { type: 'number', describe: 'onnxruntime intra-op threads' })
    .demandOption('data');
type Args = ArgsOf<typeof builder>;

export const evalCommand: CommandModule<GlobalArgs, Args> = {
  command: 'eval <model>',
  describe: 'Accuracy (classification) or MSE/MAE (regression) of a model on data, in onnxruntime',
  builder,
  handler: async (argv) => {
    parseOptions(evalOptionsSchema, { batch: argv.batch, ...(argv.threads !== undefined ? { threads: argv.threads } : {}) }, 'eval');
    const ctx = ctxFromArgs(argv);
    const input = await loadModelInput(argv.model, ctx);
    const data = await evalData(argv.data, argv.split);
    const session = await createSession(
      input.onnxPath ?? input.model,
      { ...(argv.threads !== undefined ? { threads: argv.threads } : {}), label: argv.model },
      ctx,
    );
    const r = await evaluate(session, data, { batch: argv.batch }, ctx).finally(() => session.release());
    emit(argv, { path: input.path, data: data.name, ...r }, () =>
      r.task === 'classification'
        ? `accuracy ${(r.accuracy * 100).toFixed(2)}% (${r.correct}/${r.n}) on ${data.name}`
        : `MSE ${r.mse.toPrecision(5)}, MAE ${r.mae.toPrecision(5)} on ${data.name} (${r.n} samples)`,
    );
  },
};

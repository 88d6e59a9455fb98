import type { Argv, CommandModule } from 'yargs';
import { parseOptions, ShrinkError } from '@shrink/core';
import { createSession, evaluate, evaluateLm } from '@shrink/core/runtime';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type ArgsOf, type GlobalArgs } from '../output.js';
import { evalData } from '../data-arg.js';
import { dataFlag } from './common-flags.js';
import { measureOptionsSchema } from '../measure-options.js';
import { lmFlags, lmOptions, lmTokens } from './lm-flags.js';

/** Scoring runs in batches: --batch means samples per run here, 64 unless told. */
const evalOptionsSchema = measureOptionsSchema
  .pick({ threads: true })
  .extend({ batch: measureOptionsSchema.shape.batch.unwrap().default(64) });

const builder = (y: Argv<GlobalArgs>) =>
  lmFlags(
    dataFlag(y.positional('model', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' }), false)
      .option('batch', { type: 'number', default: 64, describe: 'Samples per run' })
      .option('threads', { type: 'number', describe: 'onnxruntime intra-op threads' })
      .option('task', {
        choices: ['auto', 'lm'] as const,
        default: 'auto' as const,
        describe: 'auto: accuracy or MSE/MAE on --data; lm: perplexity of a language model on --tokens or --text',
      }),
  );
type Args = ArgsOf<typeof builder>;

export const evalCommand: CommandModule<GlobalArgs, Args> = {
  command: 'eval <model>',
  describe:
    'Accuracy (classification) or MSE/MAE (regression) of a model on data, or perplexity of a language model (--task lm), in onnxruntime',
  builder,
  handler: async (argv) => {
    if (argv.task === 'lm') return evalLm(argv);
    // --data is required unless the task is lm (yargs cannot make a flag conditional); same words as yargs.
    if (argv.data === undefined)
      throw new ShrinkError('INVALID_ARGUMENT', 'Missing required argument: data (or --task lm with --tokens/--text)', { option: 'data' });
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

/** `eval --task lm`: perplexity of one model over token windows. */
async function evalLm(argv: Args): Promise<void> {
  if (argv.data !== undefined)
    throw new ShrinkError('INVALID_ARGUMENT', 'a language model is scored on --tokens or --text, not on a dataset', { option: 'data' });
  const ctx = ctxFromArgs(argv);
  const input = await loadModelInput(argv.model, ctx);
  const tokens = await lmTokens(argv);
  const r = await evaluateLm([{ model: input.onnxPath ?? input.model, label: argv.model }], tokens, lmOptions(argv), ctx);
  emit(
    argv,
    {
      path: input.path,
      data: r.data,
      task: 'lm',
      perplexity: r.score.perplexity,
      meanNll: r.score.meanNll,
      tokens: r.tokens,
      windows: r.windows,
      windowsTotal: r.windowsTotal,
      context: r.context,
      stride: r.stride,
      ...(r.stopped !== undefined ? { stopped: r.stopped } : {}),
    },
    () =>
      `perplexity ${r.score.perplexity.toPrecision(6)} (mean NLL ${r.score.meanNll.toFixed(4)} nats) on ${r.method}${r.stopped !== undefined ? `; ${r.stopped}` : ''}`,
  );
}

import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { z } from 'zod';
import type { LayersModel } from '@tensorflow/tfjs';
import { resolveData } from '@shrink/core/data';
import { createSession, evaluate } from '@shrink/core/runtime';
import { saveModel } from '@shrink/core/io';
import { ctxFromArgs, emit, type ArgsOf, type GlobalArgs } from '../output.js';
import { ensureDir, outputPath } from '../paths.js';
import { flagsFromSchema, optionsFromArgv } from '../schema-flags.js';
import { exportMaxAbsDiff } from '../export-check.js';

export const PRESET_NAMES = ['seed', 'digits-mlp', 'fashion-mlp', 'fashion-cnn'] as const;

export const trainSchema = z.strictObject({
  preset: z.enum(PRESET_NAMES).describe('Model and data to train (see README)'),
  epochs: z.number().int().positive().optional().describe("Epochs (default: the preset's)"),
  batchSize: z.number().int().positive().optional().describe("Samples per step (default: the preset's)"),
  lr: z.number().positive().optional().describe("Adam learning rate (default: the preset's)"),
  data: z.string().optional().describe("Training data (default: the preset's): digits, fashion-mnist, seed, a folder, .csv or .json"),
  seed: z.number().int().min(0).default(0).describe('Seed for weights, splits and sample order'),
  patience: z.number().int().positive().optional().describe('Stop after this many epochs without validation improvement'),
});
export type TrainArgs = z.output<typeof trainSchema>;

export interface TrainOutcome {
  preset: string;
  /** The --data spec trained and tested on. */
  data: string;
  backend: string;
  epochs: number;
  seconds: number;
  history: unknown[];
  stoppedEarly: boolean;
  /** Quality of the exported ONNX model on the test split, measured in onnxruntime. */
  test: { n: number; accuracy?: number; mse?: number; mae?: number };
  onnx: string;
  tfjs: string;
  maxAbsDiff: number;
}

/** Trains a preset, saves it as tfjs and ONNX into `dir`, and checks the export against tfjs. */
export async function trainToDir(
  opts: TrainArgs,
  dir: string,
  ctx: ReturnType<typeof ctxFromArgs>,
  inputs: string[] = [],
): Promise<TrainOutcome> {
  const { trainPreset, initTf } = await import('@shrink/core/tfjs');
  await initTf(ctx);
  const r = await trainPreset(
    opts.preset,
    {
      ...(opts.epochs !== undefined ? { epochs: opts.epochs } : {}),
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      ...(opts.lr !== undefined ? { lr: opts.lr } : {}),
      ...(opts.data !== undefined ? { data: opts.data } : {}),
      ...(opts.patience !== undefined ? { earlyStopping: { patience: opts.patience } } : {}),
      seed: opts.seed,
    },
    ctx,
  );
  try {
    const run = { epochs: r.history.length, seconds: r.seconds, history: r.history, stoppedEarly: r.stoppedEarly };
    return await exportToDir(
      r.model,
      { preset: opts.preset, data: opts.data ?? r.preset.data, backend: r.backend, ...run },
      dir,
      ctx,
      inputs,
    );
  } finally {
    r.model.dispose();
  }
}

/**
 * Saves a trained preset model (just trained, or loaded from stored weights) as tfjs and ONNX into `dir`,
 * checks the export against tfjs and measures the ONNX model on the test split in onnxruntime.
 */
export async function exportToDir(
  layers: LayersModel,
  run: Omit<TrainOutcome, 'test' | 'onnx' | 'tfjs' | 'maxAbsDiff'>,
  dir: string,
  ctx: ReturnType<typeof ctxFromArgs>,
  inputs: string[] = [],
): Promise<TrainOutcome> {
  const { saveLayersModel, exportToOnnx, initTf } = await import('@shrink/core/tfjs');
  const { tf } = await initTf(ctx);
  const tfjsDir = path.join(dir, 'tfjs');
  await saveLayersModel(layers, tfjsDir);
  const { model } = exportToOnnx(layers);
  const onnxPath = path.join(dir, 'model.onnx');
  await saveModel(model, onnxPath, { inputs });
  const maxAbsDiff = await exportMaxAbsDiff(tf, layers, model);
  const testData = await resolveData(run.data, { split: 'test' });
  const session = await createSession(onnxPath, { label: onnxPath }, ctx);
  const q = await evaluate(session, testData, {}, ctx).finally(() => session.release());
  return {
    ...run,
    test: q.task === 'classification' ? { n: q.n, accuracy: q.accuracy } : { n: q.n, mse: q.mse, mae: q.mae },
    onnx: onnxPath,
    tfjs: tfjsDir,
    maxAbsDiff,
  };
}

const builder = (y: Argv<GlobalArgs>) =>
  flagsFromSchema(y, trainSchema).option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'Output folder' });
type Args = ArgsOf<typeof builder>;

export const trainCommand: CommandModule<GlobalArgs, Args> = {
  command: 'train',
  describe: 'Train a preset in TensorFlow.js; write DIR/model.onnx and DIR/tfjs/',
  builder,
  handler: async (argv) => {
    const opts = optionsFromArgv(trainSchema, argv, 'train');
    const ctx = ctxFromArgs(argv);
    // Check the output folder before spending minutes on training.
    const dir = outputPath(argv.output);
    await ensureDir(dir);
    const out = await trainToDir(opts, dir, ctx);
    emit(argv, out, () => {
      const q =
        out.test.accuracy !== undefined
          ? `test accuracy ${(out.test.accuracy * 100).toFixed(2)}%`
          : `test MSE ${out.test.mse?.toPrecision(4)}`;
      return [
        `trained ${out.preset} on ${out.backend} in ${out.seconds.toFixed(1)} s (${out.epochs} epoch${out.epochs === 1 ? '' : 's'}${out.stoppedEarly ? ', stopped early' : ''}); ${q} (onnxruntime, ${out.test.n} samples)`,
        `wrote ${out.onnx} and ${out.tfjs}/ (export max abs diff vs tfjs ${out.maxAbsDiff.toExponential(2)})`,
      ].join('\n');
    });
  },
};

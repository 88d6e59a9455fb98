import path from 'node:path';
import type { Ctx } from '@shrink/core';
import { resolveSplit } from '@shrink/core/data';
import type { TrainedMeta } from '@shrink/core/tfjs';
import { exportToDir, trainToDir, type TrainArgs, type TrainOutcome } from '../commands/train.js';

export interface PresetWeightsRequest {
  preset: TrainArgs['preset'];
  seed: number;
  epochs?: number;
  data?: string;
  /** Train now even when stored weights match (--full, --epochs): the user asked to see training. */
  live: boolean;
  /** Where weights trained here are kept (default trainedCacheDir()). */
  cacheDir?: string;
}

export interface PresetWeights {
  train: TrainOutcome;
  /** Where the weights came from, in one line for the log and the report's notes. */
  source: string;
  hash?: string;
}

const pct = (x: number | undefined) => (x === undefined ? '' : `${(x * 100).toFixed(2)} % test accuracy`);

/**
 * A preset's trained model in `dir` (tfjs/, model.json, measured on the test split), from the weights
 * the package ships or this machine's cache when their content hash matches the recipe, else trained now
 * (progress on stderr) and cached under that hash for the next run.
 */
export async function presetWeightsToDir(req: PresetWeightsRequest, dir: string, ctx: Ctx): Promise<PresetWeights> {
  const args: TrainArgs = {
    preset: req.preset,
    seed: req.seed,
    ...(req.epochs !== undefined ? { epochs: req.epochs } : {}),
    ...(req.data !== undefined ? { data: req.data } : {}),
  };
  if (req.live) {
    const train = await trainToDir(args, dir, ctx);
    return { train, source: `trained now (${train.epochs} epochs, ${train.seconds.toFixed(0)} s)` };
  }
  const tfjs = await import('@shrink/core/tfjs');
  const { tf } = await tfjs.initTf(ctx);
  const recipe = tfjs.presetRecipe(req.preset, args);
  const dataDigest = tfjs.splitDigest(await resolveSplit(recipe.data));
  const hash = tfjs.recipeHash(tf, recipe, dataDigest);
  const cacheDir = req.cacheDir ?? tfjs.trainedCacheDir();
  const { found, shipped } = await tfjs.findTrainedWeights(req.preset, hash, cacheDir);
  if (found) {
    const layers = await tfjs.loadLayersModel(found.dir);
    try {
      const m = found.meta;
      const train = await exportToDir(
        layers,
        {
          preset: req.preset,
          data: recipe.data,
          backend: m.backend,
          epochs: m.epochs,
          seconds: m.seconds,
          history: m.history,
          stoppedEarly: false,
        },
        dir,
        ctx,
      );
      const file = path.relative(process.cwd(), path.join(found.dir, tfjs.MODEL_JSON)) || found.dir;
      const claimed = pct(m.test.accuracy) || `test MSE ${m.test.mse?.toPrecision(4)}`;
      return {
        train,
        hash,
        source: `trained weights from ${file} (${found.from}; hash ${hash.slice(0, 12)}, ${claimed}; ${m.epochs} epochs of ${recipe.data})`,
      };
    } finally {
      layers.dispose();
    }
  }
  if (shipped) {
    ctx.logger?.info(
      `${req.preset}: the shipped weights are for hash ${shipped.hash.slice(0, 12)}, this recipe is ${hash.slice(0, 12)} (preset, recipe or data changed): training`,
    );
  }
  const train = await trainToDir(args, dir, ctx);
  const meta: TrainedMeta = {
    schema: tfjs.TRAINED_SCHEMA,
    preset: req.preset,
    hash,
    recipe,
    dataDigest,
    test: train.test,
    backend: train.backend,
    epochs: train.epochs,
    seconds: train.seconds,
    history: train.history,
    command: `shrink demo --presets ${req.preset}`,
  };
  const entry = await tfjs.cacheTrainedWeights(train.tfjs, meta, cacheDir);
  return {
    train,
    hash,
    source: `trained now (${train.epochs} epochs, ${train.seconds.toFixed(0)} s; cached in ${entry}, hash ${hash.slice(0, 12)})`,
  };
}

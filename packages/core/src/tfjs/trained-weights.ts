import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tfjs from '@tensorflow/tfjs';
import { ShrinkError } from '../errors.js';
import type { Split } from '../data/dataset.js';
import { findRepoRoot } from '../data/fashion-mnist.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { getPreset, type LrSchedule, type TfPreset } from './presets.js';

type Tf = typeof tfjs;

export const TRAINED_SCHEMA = 'shrink.trained/v1' as const;
/** Beside model.json and its weights: what was trained, how, on what, and how well. */
export const TRAINED_META = 'trained.json';
export const TRAINED_CACHE_ENV = 'SHRINK_CACHE_DIR';

/** Everything trainPreset is told; with the preset's definition and the data's digest it fixes the weights. */
export interface TrainRecipe {
  preset: string;
  data: string;
  epochs: number;
  batchSize: number;
  lr: number;
  lrSchedule: LrSchedule;
  seed: number;
  /** Share of the training part held out for validation (trainPreset's default). */
  validationFraction: number;
}

export interface TrainedMeta {
  schema: typeof TRAINED_SCHEMA;
  preset: string;
  /** recipeHash of the recipe, the preset's definition and the data. */
  hash: string;
  recipe: TrainRecipe;
  /** sha256 of the samples and labels trained and tested on (splitDigest). */
  dataDigest: string;
  /** The exported ONNX model on the test split, measured in onnxruntime. */
  test: { n: number; accuracy?: number; mse?: number; mae?: number };
  backend: string;
  epochs: number;
  seconds: number;
  history: unknown[];
  /** How these weights were made, for whoever needs to make them again. */
  command: string;
}

export interface FoundWeights {
  /** A tfjs layers-model folder (model.json + weights). */
  dir: string;
  meta: TrainedMeta;
  from: 'shipped' | 'cache';
}

/** The recipe of a preset as trainPreset runs it, with the demo's or the user's changes. */
export function presetRecipe(name: string, over: { data?: string; epochs?: number; seed?: number } = {}): TrainRecipe {
  const p = getPreset(name);
  return {
    preset: p.name,
    data: over.data ?? p.data,
    epochs: over.epochs ?? p.epochs,
    batchSize: p.batchSize,
    lr: p.lr,
    lrSchedule: p.lrSchedule,
    seed: over.seed ?? 0,
    validationFraction: 0.1,
  };
}

/**
 * sha256 of a split's samples, labels and shapes: the data itself rather than its files, so the same
 * images gzipped twice (or found in another folder) give the same digest, and a changed file does not.
 */
export function splitDigest(split: Split): string {
  const h = createHash('sha256');
  for (const ds of [split.train, split.test]) {
    h.update(JSON.stringify({ n: ds.n, shape: ds.sampleShape, task: ds.task, classes: ds.numClasses ?? null }));
    h.update(new Uint8Array(ds.x.buffer, ds.x.byteOffset, ds.x.byteLength));
    h.update(new Uint8Array(ds.y.buffer, ds.y.byteOffset, ds.y.byteLength));
  }
  return h.digest('hex');
}

/**
 * The key of trained weights: sha256 over the preset's definition (the built model's layer config, with
 * its initializer seeds, plus task, shapes, loss), the recipe and the data digest. Any change to the
 * architecture, the recipe or the data gives another key, so weights trained for something else are
 * never taken for these.
 */
export function recipeHash(tf: Tf, recipe: TrainRecipe, dataDigest: string, preset: TfPreset = getPreset(recipe.preset)): string {
  const model = preset.build(tf, recipe.seed);
  try {
    const definition = {
      name: preset.name,
      task: preset.task,
      inputShape: preset.inputShape,
      outputs: preset.outputs,
      loss: preset.loss,
      layers: model.getConfig(),
    };
    return createHash('sha256')
      .update(JSON.stringify({ schema: TRAINED_SCHEMA, definition, recipe, dataDigest }))
      .digest('hex');
  } finally {
    model.dispose();
  }
}

/** Where the package ships trained weights for a preset (assets/trained/PRESET/), found through its exports. */
export function shippedWeightsDir(preset: string): string {
  return path.dirname(fileURLToPath(import.meta.resolve(`@shrink/core/assets/trained/${preset}/${TRAINED_META}`)));
}

/**
 * Where weights trained on this machine are kept: $SHRINK_CACHE_DIR, else .cache/shrink/trained in the
 * Shrink checkout (git ignores it), else ~/.cache/shrink/trained for an installed CLI.
 */
export function trainedCacheDir(env: Record<string, string | undefined> = process.env): string {
  const fromEnv = env[TRAINED_CACHE_ENV];
  if (fromEnv) return path.resolve(fromEnv, 'trained');
  const root = findRepoRoot();
  return root ? path.join(root, '.cache', 'shrink', 'trained') : path.join(os.homedir(), '.cache', 'shrink', 'trained');
}

function cacheEntry(cacheDir: string, preset: string, hash: string): string {
  return path.join(cacheDir, `${preset}-${hash.slice(0, 16)}`);
}

/** The meta file of a weights folder, or undefined when there is none (any other read error is thrown). */
export async function readTrainedMeta(dir: string): Promise<TrainedMeta | undefined> {
  const file = path.join(dir, TRAINED_META);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const meta = JSON.parse(text) as Partial<TrainedMeta>;
  if (meta.schema !== TRAINED_SCHEMA || typeof meta.hash !== 'string') {
    throw new ShrinkError('INVALID_DATA', `${file}: schema ${JSON.stringify(meta.schema)}, expected "${TRAINED_SCHEMA}" with a hash`);
  }
  return meta as TrainedMeta;
}

/**
 * Weights for `hash`: the package's own for the preset when their hash matches, else this machine's
 * cache; undefined when neither has them. `shipped` is what the package holds either way, so callers
 * can say why shipped weights were not used.
 */
export async function findTrainedWeights(
  preset: string,
  hash: string,
  cacheDir = trainedCacheDir(),
): Promise<{ found?: FoundWeights; shipped?: TrainedMeta }> {
  const shippedDir = shippedWeightsDir(preset);
  const shipped = await readTrainedMeta(shippedDir);
  if (shipped?.hash === hash) return { found: { dir: shippedDir, meta: shipped, from: 'shipped' }, shipped };
  const dir = cacheEntry(cacheDir, preset, hash);
  const cached = await readTrainedMeta(dir);
  const found: FoundWeights | undefined = cached?.hash === hash ? { dir, meta: cached, from: 'cache' } : undefined;
  return { ...(found ? { found } : {}), ...(shipped ? { shipped } : {}) };
}

/**
 * Copies a tfjs layers-model folder and its meta into `dest` as one step: the files go to a temporary
 * sibling that is renamed into place, so a reader sees the old entry, the new one, or none.
 */
export async function writeTrainedWeights(tfjsDir: string, meta: TrainedMeta, dest: string): Promise<string> {
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(path.dirname(dest), { recursive: true });
  try {
    await cp(tfjsDir, tmp, { recursive: true });
    await writeFileAtomic(path.join(tmp, TRAINED_META), `${JSON.stringify(meta, null, 2)}\n`);
    await rm(dest, { recursive: true, force: true });
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dest;
}

/** Keeps freshly trained weights in the cache under their hash; returns the entry's folder. */
export async function cacheTrainedWeights(tfjsDir: string, meta: TrainedMeta, cacheDir = trainedCacheDir()): Promise<string> {
  return writeTrainedWeights(tfjsDir, meta, cacheEntry(cacheDir, meta.preset, meta.hash));
}

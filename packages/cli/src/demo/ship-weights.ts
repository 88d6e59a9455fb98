// Makes the trained weights the package ships for a preset (packages/core/assets/trained/PRESET/), so the
// demo starts from par accuracy without training for a quarter of an hour first. From the repo root:
//
//   node --import tsx --conditions=@shrink/source packages/cli/src/demo/ship-weights.ts fashion-cnn
//
// trains the preset as `shrink train --preset fashion-cnn` does (its own recipe, seed 0, all of its data),
// or, with `--from DIR --outcome FILE`, takes the weights of such a run already made
// (`shrink train --preset fashion-cnn -o DIR --json > FILE`). Either way the weights are exported to ONNX
// and measured on the test split in onnxruntime, and the folder gets trained.json: the recipe, its
// content hash (recipeHash) and the accuracy measured. The demo uses the folder only while the hash of the
// current preset, recipe and data matches.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveSplit } from '@shrink/core/data';
import {
  initTf,
  loadLayersModel,
  presetRecipe,
  recipeHash,
  shippedWeightsDir,
  splitDigest,
  TRAINED_SCHEMA,
  writeTrainedWeights,
  type TrainedMeta,
} from '@shrink/core/tfjs';
import { ctxFromArgs } from '../output.js';
import { exportToDir, PRESET_NAMES, trainToDir, type TrainOutcome } from '../commands/train.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string' }, outcome: { type: 'string' } },
});
const preset = positionals[0] as (typeof PRESET_NAMES)[number] | undefined;
if (!preset || !PRESET_NAMES.includes(preset) || (values.from === undefined) !== (values.outcome === undefined)) {
  process.stderr.write(`usage: ship-weights.ts (${PRESET_NAMES.join('|')}) [--from DIR --outcome FILE]\n`);
  process.exit(2);
}
const ctx = ctxFromArgs({ verbose: true });
const { tf } = await initTf(ctx);
const recipe = presetRecipe(preset);
const dataDigest = splitDigest(await resolveSplit(recipe.data));
const hash = recipeHash(tf, recipe, dataDigest);
const work = await mkdtemp(path.join(os.tmpdir(), 'shrink-ship-'));
try {
  let outcome: TrainOutcome;
  let command = `node --import tsx --conditions=@shrink/source packages/cli/src/demo/ship-weights.ts ${preset}`;
  if (values.from !== undefined && values.outcome !== undefined) {
    const ran = JSON.parse(await readFile(values.outcome, 'utf8')) as TrainOutcome;
    if (ran.preset !== preset || ran.data !== recipe.data)
      throw new Error(`${values.outcome}: a run of ${ran.preset} on ${ran.data}, not ${preset} on ${recipe.data}`);
    const layers = await loadLayersModel(path.join(values.from, 'tfjs'));
    outcome = await exportToDir(layers, { ...ran }, work, ctx);
    layers.dispose();
    command = `shrink train --preset ${preset} -o DIR --json > FILE, then ${command} --from DIR --outcome FILE`;
  } else {
    outcome = await trainToDir({ preset, seed: recipe.seed }, work, ctx);
  }
  const meta: TrainedMeta = {
    schema: TRAINED_SCHEMA,
    preset,
    hash,
    recipe,
    dataDigest,
    test: outcome.test,
    backend: outcome.backend,
    epochs: outcome.epochs,
    seconds: outcome.seconds,
    history: outcome.history,
    command,
  };
  const dest = await writeTrainedWeights(outcome.tfjs, meta, shippedWeightsDir(preset));
  const q = outcome.test.accuracy !== undefined ? `${(outcome.test.accuracy * 100).toFixed(2)} %` : `MSE ${outcome.test.mse}`;
  process.stdout.write(`${preset}: ${q} on ${outcome.test.n} test samples (onnxruntime); hash ${hash}; wrote ${dest}\n`);
} finally {
  await rm(work, { recursive: true, force: true });
}

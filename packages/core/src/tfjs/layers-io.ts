import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type * as tfjs from '@tensorflow/tfjs';
import { ShrinkError } from '../errors.js';
import { removeStaleTemps } from '../io/remove-stale-temps.js';
import { writeLinkedFiles } from '../io/write-linked-files.js';
import { errnoOf, fsError } from '../io/fs-error.js';
import { resolveInside } from '../io/safe-path.js';
import { tensorNumel } from '../onnx/tensor.js';

/**
 * tfjs layers-model folders (model.json + binary weight shards) without tfjs-node, whose `file://`
 * handler is the only one tfjs ships for Node. The layout is the one tfjs and its converter write, so
 * the folders load in the browser with tf.loadLayersModel('.../model.json') as well.
 */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_FILE = 'group1-shard1of1.bin';

const BYTES_PER_ELEMENT: Readonly<Record<string, number>> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Stored bytes of one manifest entry (its quantized dtype when it has a `quantization` block). */
function entryBytes(spec: tfjs.io.WeightsManifestEntry, where: string): number | undefined {
  const dtype: string = spec.quantization?.dtype ?? spec.dtype;
  if (dtype === 'string') return undefined;
  const per = BYTES_PER_ELEMENT[dtype];
  if (per === undefined) {
    throw new ShrinkError(
      'INVALID_MODEL',
      `${where}: weight '${spec.name}' has dtype '${dtype}'; expected float32, int32, bool, uint8, uint16 or float16`,
    );
  }
  if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShrinkError(
      'INVALID_MODEL',
      `${where}: weight '${spec.name}' has shape ${JSON.stringify(spec.shape)}; expected non-negative integers`,
    );
  }
  return tensorNumel(spec.shape) * per;
}

async function readJson(file: string): Promise<tfjs.io.ModelJSON> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw fsError(e, 'read tfjs model', file);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ShrinkError('INVALID_MODEL', `${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ShrinkError('INVALID_MODEL', `${file}: expected a tfjs model.json object with modelTopology and weightsManifest`);
  }
  const m = doc as Partial<tfjs.io.ModelJSON>;
  if (typeof m.modelTopology !== 'object' || m.modelTopology === null) {
    throw new ShrinkError('INVALID_MODEL', `${file}: key "modelTopology" is missing; expected a tfjs layers model.json`);
  }
  if (!Array.isArray(m.weightsManifest)) {
    throw new ShrinkError('INVALID_MODEL', `${file}: key "weightsManifest" must be an array of {paths, weights} groups`);
  }
  m.weightsManifest.forEach((g, i) => {
    if (!g || !Array.isArray(g.paths) || !g.paths.every((p) => typeof p === 'string') || !Array.isArray(g.weights)) {
      throw new ShrinkError('INVALID_MODEL', `${file}: weightsManifest[${i}] must have "paths" (strings) and "weights" (an array)`);
    }
    g.weights.forEach((w: unknown, j) => {
      const e = w as { name?: unknown; dtype?: unknown; quantization?: unknown } | null;
      if (
        typeof e !== 'object' ||
        e === null ||
        Array.isArray(e) ||
        typeof e.name !== 'string' ||
        typeof e.dtype !== 'string' ||
        (e.quantization != null && typeof e.quantization !== 'object')
      ) {
        throw new ShrinkError(
          'INVALID_MODEL',
          `${file}: weightsManifest[${i}].weights[${j}] is ${JSON.stringify(w)}; expected {"name": string, "shape": [...], "dtype": string}`,
        );
      }
    });
  });
  return m as tfjs.io.ModelJSON;
}

async function readWeightFile(dir: string, rel: string, modelJson: string): Promise<Buffer> {
  const file = resolveInside(dir, rel, `weight file '${rel}' listed in ${modelJson}`);
  try {
    return await readFile(file);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') {
      throw new ShrinkError('INVALID_MODEL', `weight file ${file} listed in ${modelJson} is missing`, { cause: e });
    }
    throw fsError(e, 'read weight file', file);
  }
}

/**
 * The raw artifacts of a tfjs layers-model folder: topology, the manifest's weight specs in order
 * (with any `quantization` blocks as written) and all weight bytes in one buffer. Weight paths that are
 * absolute or leave the folder -> UNSAFE_PATH; missing or short weight files -> INVALID_MODEL.
 */
export async function readLayersModelDir(dir: string): Promise<tfjs.io.ModelArtifacts> {
  const jsonPath = path.join(dir, MODEL_JSON);
  const modelJson = await readJson(jsonPath);
  const specs: tfjs.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const [gi, group] of modelJson.weightsManifest.entries()) {
    const files = await Promise.all(group.paths.map((p) => readWeightFile(dir, p, jsonPath)));
    const have = files.reduce((a, f) => a + f.length, 0);
    const sizes = group.weights.map((w) => entryBytes(w, jsonPath));
    const need = sizes.every((s) => s !== undefined) ? sizes.reduce<number>((a, s) => a + (s ?? 0), 0) : undefined;
    if (need !== undefined && have < need) {
      throw new ShrinkError(
        'INVALID_MODEL',
        `weight file${group.paths.length > 1 ? 's' : ''} ${group.paths.join(', ')} in ${dir} hold${group.paths.length > 1 ? '' : 's'} ${have} bytes; ` +
          `weightsManifest[${gi}] of ${jsonPath} needs ${need}`,
      );
    }
    // Groups are laid end to end; trailing bytes past a group's weights would shift the next group.
    let left = need ?? have;
    for (const f of files) {
      const take = Math.min(left, f.length);
      parts.push(f.subarray(0, take));
      left -= take;
    }
    specs.push(...group.weights);
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const weightData = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    weightData.set(p, off);
    off += p.length;
  }
  return tf.io.getModelArtifactsForJSON(modelJson, async () => [specs, weightData.buffer]);
}

/**
 * Writes artifacts as a folder: the weights as one shard and model.json, both complete on disk before
 * either is renamed into place, so a reader never sees a model.json whose weights are missing, partial
 * or from another save. Creates the folder.
 */
export async function writeLayersModelDir(dir: string, artifacts: tfjs.io.ModelArtifacts): Promise<tfjs.io.SaveResult> {
  if (artifacts.modelTopology instanceof ArrayBuffer || artifacts.modelTopology == null) {
    throw new ShrinkError('INVALID_ARGUMENT', `cannot save to ${dir}: only layers models with a JSON topology are written here`);
  }
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw fsError(e, 'create model folder', dir);
  }
  const specs = artifacts.weightSpecs ?? [];
  const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const topology = artifacts.modelTopology;
  const modelJson = (weightsPath: string): tfjs.io.ModelJSON => ({
    modelTopology: topology,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [weightsPath], weights: specs }],
    ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
    ...(artifacts.signature ? { signature: artifacts.signature } : {}),
    ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
    ...(artifacts.modelInitializer ? { modelInitializer: artifacts.modelInitializer } : {}),
    ...(artifacts.initializerSignature ? { initializerSignature: artifacts.initializerSignature } : {}),
  });
  // model.json names its weights file, as an .onnx names its external data: the same one-rename commit
  // (writeLinkedFiles), so a kill never leaves an old model.json reading new weights or the reverse.
  const files = [path.join(dir, MODEL_JSON), path.join(dir, WEIGHTS_FILE)];
  await writeLinkedFiles(files[0]!, [{ target: files[1]!, chunks: [new Uint8Array(data)] }], ([w]) => [
    new TextEncoder().encode(JSON.stringify(modelJson(w!))),
  ]);
  await removeStaleTemps(files);
  return {
    modelArtifactsInfo: {
      dateSaved: new Date(),
      modelTopologyType: 'JSON',
      modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
      weightSpecsBytes: JSON.stringify(specs).length,
      weightDataBytes: data.byteLength,
    },
  };
}

/** A tfjs IOHandler over a folder, for model.save(...) and tf.loadLayersModel(...). */
export function layersModelDir(dir: string): tfjs.io.IOHandler {
  return {
    save: (artifacts) => writeLayersModelDir(dir, artifacts),
    load: () => readLayersModelDir(dir),
  };
}

export async function saveLayersModel(model: tfjs.LayersModel, dir: string): Promise<tfjs.io.SaveResult> {
  return model.save(layersModelDir(dir));
}

/** Loads a layers model folder; quantized weights (uint8/uint16/float16 manifests) are dequantized by tfjs. */
export async function loadLayersModel(dir: string): Promise<tfjs.LayersModel> {
  const artifacts = await readLayersModelDir(dir);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    throw new ShrinkError('INVALID_MODEL', `cannot build the tfjs model in ${path.join(dir, MODEL_JSON)}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

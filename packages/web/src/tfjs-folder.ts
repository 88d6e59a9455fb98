/**
 * A tfjs layers-model folder (model.json and its weight shards) as an .onnx File, converted in the page
 * by core's portable exportToOnnx, the CLI's converter, so the page then opens it like a dropped .onnx.
 * Built as its own lazily loaded script (assets/tfjs.js: @tensorflow/tfjs is most of it); only the weights
 * are read, so the cpu backend is enough and no WebGL context is made.
 */
import * as tf from '@tensorflow/tfjs';
import { prepareEncode, ShrinkError } from '@shrink/core';
// The file itself, not `@shrink/core/tfjs`: that entry also reads and writes folders with node:fs.
import { exportToOnnx } from '../../core/src/tfjs/export.js';

const base = (p: string) => p.replace(/^.*\//, '');

/** Whether `files` hold a tfjs folder's model.json. */
export function findModelJson(files: readonly File[]): File | undefined {
  return files.find((f) => base(f.webkitRelativePath || f.name).toLowerCase() === 'model.json');
}

export async function convertTfjsFolder(files: readonly File[]): Promise<File> {
  const json = findModelJson(files);
  if (!json) throw new ShrinkError('INVALID_ARGUMENT', 'no model.json among the files given: pick a tfjs folder');
  let manifest: Array<{ paths?: string[] }>;
  try {
    const parsed = JSON.parse(await json.text()) as { modelTopology?: unknown; weightsManifest?: Array<{ paths?: string[] }> };
    if (!parsed.modelTopology) throw new Error('it has no modelTopology');
    manifest = parsed.weightsManifest ?? [];
  } catch (e) {
    throw new ShrinkError('INVALID_MODEL', `${json.name} is not a tfjs layers-model model.json (${(e as Error).message})`);
  }
  // tf.io.browserFiles takes exactly the shards the manifest names (a folder may hold other files).
  const shards: File[] = [];
  for (const p of manifest.flatMap((g) => g.paths ?? [])) {
    const shard = files.find((f) => f.name === base(p));
    if (!shard) throw new ShrinkError('INVALID_ARGUMENT', `${json.name} names weight shard '${base(p)}': pick or drop the whole folder`);
    shards.push(shard);
  }
  await tf.setBackend('cpu');
  let layers: tf.LayersModel;
  try {
    layers = await tf.loadLayersModel(tf.io.browserFiles([json, ...shards]));
  } catch (e) {
    throw new ShrinkError('INVALID_MODEL', `${json.name}: tfjs could not load it (${(e as Error).message})`);
  }
  try {
    const { model } = exportToOnnx(layers);
    const enc = prepareEncode(model);
    const folder = /^([^/]+)\//.exec(json.webkitRelativePath)?.[1] ?? 'model';
    return new File([...enc.chunks()] as BlobPart[], `${folder}.onnx`, { type: 'application/octet-stream' });
  } finally {
    layers.dispose();
  }
}

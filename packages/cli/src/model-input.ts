import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError, type Ctx, type onnx } from '@shrink/core';
import { fileSizes, loadModel } from '@shrink/core/io';

export interface ModelInput {
  model: onnx.ModelProto;
  /** The path the user gave (an .onnx file, or a tfjs model folder / model.json). */
  path: string;
  format: 'onnx' | 'tfjs';
  /** Files the model was read from: outputs must never overwrite them. */
  inputs: string[];
  /** An .onnx file onnxruntime can load directly (large models must load from a path); absent for tfjs. */
  onnxPath?: string;
  /** Bytes on disk: .onnx plus external data, or every file of the tfjs folder. */
  diskBytes: number;
}

/**
 * Every MODEL argument: an .onnx file, or a tfjs layers-model folder (or its model.json), which is
 * exported to ONNX in memory so every command measures the same kind of graph.
 */
export async function loadModelInput(arg: string, ctx: Ctx = {}): Promise<ModelInput> {
  const abs = path.resolve(arg);
  const tfjsDir = await tfjsFolderOf(arg);
  if (tfjsDir === undefined) {
    const sizes = await fileSizes(abs);
    const model = await loadModel(abs);
    return { model, path: arg, format: 'onnx', inputs: [abs, ...sizes.externalFiles], onnxPath: abs, diskBytes: sizes.totalBytes };
  }
  const { initTf, loadLayersModel, exportToOnnx } = await import('@shrink/core/tfjs');
  await initTf(ctx);
  const layers = await loadLayersModel(tfjsDir);
  const { model } = exportToOnnx(layers);
  layers.dispose();
  // The folder and every file in it (model.json, weight shards) are inputs no output may replace.
  const { files, bytes } = await folderFiles(tfjsDir);
  return { model, path: arg, format: 'tfjs', inputs: [tfjsDir, ...files], diskBytes: bytes };
}

/** The files directly in a tfjs folder (model.json, weight shards) and their total bytes. */
export async function folderFiles(dir: string): Promise<{ files: string[]; bytes: number }> {
  const files = (await readdir(dir, { withFileTypes: true })).filter((f) => f.isFile()).map((f) => path.join(dir, f.name));
  const bytes = (await Promise.all(files.map(async (f) => (await stat(f)).size))).reduce((a, b) => a + b, 0);
  return { files, bytes };
}

/** The tfjs layers-model folder `arg` names (a folder with model.json, or the model.json), or undefined for a file. */
export async function tfjsFolderOf(arg: string): Promise<string | undefined> {
  const abs = path.resolve(arg);
  const st = await stat(abs).catch(() => undefined);
  if (!st)
    throw new ShrinkError('NOT_FOUND', `${arg}: no such file or folder; expected an .onnx file or a tfjs model folder with model.json`);
  const dir = st.isDirectory() ? abs : path.basename(abs) === 'model.json' ? path.dirname(abs) : undefined;
  if (dir !== undefined && !(await stat(path.join(dir, 'model.json')).catch(() => undefined))) {
    throw new ShrinkError('NOT_FOUND', `${arg}: folder has no model.json; expected a tfjs layers-model folder or an .onnx file`);
  }
  return dir;
}

/** The input as compareModels takes it as the baseline. */
export function baselineUnderTest(input: ModelInput) {
  return {
    name: path.basename(input.path),
    model: input.model,
    ...(input.onnxPath ? { path: input.onnxPath } : {}),
    diskBytes: input.diskBytes,
  };
}

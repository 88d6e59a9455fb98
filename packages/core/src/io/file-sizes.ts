import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { decodeModel } from '../onnx/codec.js';
import { readModelFile } from './load-model.js';
import { externalRef, forEachTensor, isExternal } from './model-tensors.js';
import { resolveInside } from './safe-path.js';

export interface ModelFileSizes {
  /** The .onnx file. */
  modelBytes: number;
  /** All external data files it references (each counted once, whole file, padding included). */
  externalBytes: number;
  totalBytes: number;
  /** Absolute paths of those external data files. */
  externalFiles: string[];
}

/** On-disk size of a model file and of the external data files it references. */
export async function fileSizes(modelPath: string): Promise<ModelFileSizes> {
  const bytes = await readModelFile(modelPath);
  const model = decodeModel(bytes, modelPath);
  const dir = path.dirname(path.resolve(modelPath));
  const files = new Set<string>();
  forEachTensor(model, (t, label) => {
    if (!isExternal(t)) return;
    const { location } = externalRef(t, label, modelPath);
    files.add(resolveInside(dir, location, `${modelPath}: ${label} has external data location '${location}'`));
  });
  let externalBytes = 0;
  for (const f of files) {
    const st = await stat(f).catch((e: unknown) => {
      throw new ShrinkError('INVALID_MODEL', `${modelPath}: external data file ${f} is missing or unreadable`, { cause: e });
    });
    externalBytes += st.size;
  }
  return { modelBytes: bytes.length, externalBytes, totalBytes: bytes.length + externalBytes, externalFiles: [...files] };
}

import { lstat, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { decodeModel } from '../onnx/codec.js';
import { externalRef, forEachTensor, isExternal } from './model-tensors.js';
import { isInput } from './refuse-inputs.js';
import { resolveInside } from './safe-path.js';

// A model with external data is a small .onnx; one this large is inline, and reading it to look for
// references is not worth it (its old data file, if any, is then left in place).
const READ_AT_MOST = 64 << 20;

/**
 * Which of `candidates` the model now at `modelFile` keeps external data in: the files that become
 * unused once a new model that does not reference them replaces it. Only regular files inside the
 * model's folder that are not `inputs` of the run are returned; anything unreadable or unclear
 * (no model there, not an ONNX model, too large to read) gives none.
 */
export async function oldDataFiles(modelFile: string, candidates: readonly string[], inputs?: readonly string[]): Promise<string[]> {
  const present: string[] = [];
  for (const c of candidates) {
    const st = await lstat(c).catch(() => null);
    if (st?.isFile() && (await isInput(c, inputs)) === undefined) present.push(path.resolve(c));
  }
  if (present.length === 0) return [];
  const abs = path.resolve(modelFile);
  const st = await stat(abs).catch(() => null);
  if (!st?.isFile() || st.size > READ_AT_MOST) return [];
  const dir = path.dirname(abs);
  const referenced = new Set<string>();
  try {
    const model = decodeModel(await readFile(abs), abs);
    forEachTensor(model, (t, label) => {
      if (!isExternal(t)) return;
      const { location } = externalRef(t, label, abs);
      referenced.add(resolveInside(dir, location));
    });
  } catch {
    return [];
  }
  return present.filter((p) => referenced.has(p));
}

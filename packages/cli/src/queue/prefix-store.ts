/**
 * Step prefixes in the artifact store: the model after a trial's first n steps (a fine-tuned pruning, a
 * distilled student) with what the report says about those steps, under the prefix's hash. Every worker
 * on every machine reads it back instead of training it again.
 */
import path from 'node:path';
import { z } from 'zod';
import { loadModel } from '@shrink/core/io';
import type { StepRecord } from '@shrink/core';
import type { SharedStep, StepMemo } from '../pipeline/run-steps.js';
import { HASH, putTree, type ArtifactStore } from './artifact-store.js';

const prefixSchema = z.strictObject({
  tree: z.string().regex(HASH),
  file: z.string().min(1).max(400),
  record: z.looseObject({ kind: z.string(), notes: z.array(z.string()) }),
  notes: z.array(z.string()),
  layers: z.array(z.looseObject({ name: z.string() })),
  trained: z.boolean(),
  label: z.string().max(300),
});

export async function savePrefix(store: ArtifactStore, hash: string, s: SharedStep, files: readonly string[]): Promise<void> {
  const dir = path.dirname(s.path);
  const tree = await putTree(
    store,
    dir,
    files.map((f) => path.relative(dir, f)),
  );
  const body = {
    tree,
    file: path.basename(s.path),
    record: s.record,
    notes: s.notes,
    layers: s.layers,
    trained: s.trained,
    label: s.label,
  };
  await store.put(`prefixes/${hash}.json`, Buffer.from(JSON.stringify(body)));
}

/** The memo entry of a stored prefix, or undefined when no worker has computed it (or it does not parse). */
export async function loadPrefix(
  store: ArtifactStore,
  hash: string,
  treeFile: (tree: string, file: string) => Promise<string>,
): Promise<StepMemo | undefined> {
  const body = await store.get(`prefixes/${hash}.json`);
  if (!body) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const p = prefixSchema.safeParse(raw);
  if (!p.success) return undefined;
  const model = await loadModel(await treeFile(p.data.tree, p.data.file));
  return {
    out: { model, notes: p.data.notes, layers: p.data.layers, trained: p.data.trained },
    record: p.data.record as unknown as StepRecord,
    label: p.data.label,
  };
}

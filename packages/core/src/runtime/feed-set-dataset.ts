/**
 * A feed set as a Dataset, for what measures on Datasets (per-layer error, fidelity) and is given a
 * feeds file: only a model with one float32 input, whose samples share their shape past axis 0.
 */
import { createDataset } from '../data/dataset-ops.js';
import type { Dataset } from '../data/dataset.js';
import type { Session } from './session.js';
import type { FeedSet } from './synthetic-feeds.js';

/** The samples of `set` stacked along axis 0, unlabelled; a string saying why not otherwise. */
export function feedSetDataset(set: FeedSet, session: Session): Dataset | string {
  const meta = session.inputs[0];
  if (session.inputs.length !== 1 || !meta || meta.type !== 'float32') return 'the model has more than one input, or a non-float32 one';
  const parts: Float32Array[] = [];
  let shape: readonly number[] | undefined;
  for (const feeds of set.samples) {
    const t = feeds[meta.name];
    if (!t || !(t.data instanceof Float32Array)) return `a sample of ${set.name} has no float32 '${meta.name}'`;
    const rest = t.dims.slice(1);
    if (shape && rest.join(',') !== shape.join(',')) return `the samples of ${set.name} differ in shape past axis 0`;
    shape = rest;
    parts.push(t.data);
  }
  if (!shape || parts.length === 0) return `${set.name} has no samples`;
  const x = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    x.set(p, at);
    at += p.length;
  }
  const per = shape.reduce((a, d) => a * d, 1);
  const ds = createDataset({ name: set.name, task: 'regression', sampleShape: shape, x, y: new Float32Array(x.length / per) });
  return { ...ds, unlabeled: true };
}

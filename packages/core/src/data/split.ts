import { ShrinkError } from '../errors.js';
import type { Dataset, Split } from './dataset.js';
import { subsetDataset } from './dataset-ops.js';
import { createRng, shuffleInPlace } from './rng.js';

export interface SplitOptions {
  /** Share of samples in the test part, in (0, 1). Default 0.2. */
  testFraction?: number;
  /** Default 0. */
  seed?: number;
}

/**
 * A deterministic train/test split. Classification is stratified: each class gives
 * round(count * testFraction) samples to the test part. Both parts keep the original sample order,
 * so the split depends only on (n, labels, testFraction, seed).
 */
export function splitDataset(ds: Dataset, opts: SplitOptions = {}): Split {
  const testFraction = opts.testFraction ?? 0.2;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new ShrinkError('INVALID_ARGUMENT', `testFraction ${testFraction} must be between 0 and 1 (exclusive)`);
  }
  const rng = createRng(opts.seed ?? 0);
  let groups: number[][];
  if (ds.task === 'classification') {
    // A Map, not an array indexed by label: a label like 1e9 would make a sparse array whose holes
    // the loop below walks one by one (a minute per split). Ascending labels keep the old order.
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < ds.n; i++) {
      const c = ds.y[i] as number;
      const g = byClass.get(c);
      if (g) g.push(i);
      else byClass.set(c, [i]);
    }
    groups = [...byClass.keys()].sort((a, b) => a - b).map((c) => byClass.get(c)!);
  } else {
    groups = [Array.from({ length: ds.n }, (_, i) => i)];
  }
  const isTest = new Uint8Array(ds.n);
  for (const g of groups) {
    shuffleInPlace(g, rng);
    const k = Math.round(g.length * testFraction);
    for (let j = 0; j < k; j++) isTest[g[j] as number] = 1;
  }
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < ds.n; i++) (isTest[i] ? test : train).push(i);
  if (train.length === 0 || test.length === 0) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${ds.name}: ${ds.n} samples are too few to split with testFraction ${testFraction}; both parts need a sample`,
    );
  }
  return { train: subsetDataset(ds, train, `${ds.name}:train`), test: subsetDataset(ds, test, `${ds.name}:test`) };
}

/**
 * The browser's stand-in for `@shrink/core/data`: the portable dataset helpers as they are, and no file
 * loaders (the page has no file system; a dataset by name or path needs the CLI).
 */
import { ShrinkError } from '@shrink/core';

export { createDataset } from '../../../core/src/data/dataset-ops.js';
export { createRng } from '../../../core/src/data/rng.js';

export function resolveData(spec: string): never {
  throw new ShrinkError('INVALID_ARGUMENT', `${spec}: datasets are read from files by the CLI; the page has none`);
}
export const resolveSplit = resolveData;

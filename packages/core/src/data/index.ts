// Node-only: dataset loaders (digits, IDX, CSV, JSON, synthetic) and the --data resolver.
export * from './dataset.js';
export * from './dataset-ops.js';
export * from './rng.js';
export * from './split.js';
export * from './labels.js';
export * from './read-data-file.js';
export * from './csv.js';
export * from './json.js';
export * from './idx.js';
export * from './digits.js';
export * from './fashion-mnist.js';
export * from './synthetic.js';
export * from './resolve.js';
export * from './npy.js';
export * from './lm-tokens.js';

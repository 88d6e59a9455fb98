// @shrink/prune: portable pruning passes (graph rewriting and weight math only). Fine-tuning with
// TensorFlow.js lives in '@shrink/prune/node'.
export * from './options.js';
export * from './types.js';

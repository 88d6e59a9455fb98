// @shrink/prune: portable pruning passes (graph rewriting and weight math only). Fine-tuning with
// TensorFlow.js and the dispatch that uses it live in '@shrink/prune/runtime'.
export * from './options.js';
export * from './types.js';
export { pruneMagnitude, zeroSmallest, targetZeros, checkSparsity, UNSTRUCTURED_NOTE } from './magnitude.js';
export * from './nm.js';
export * from './structured.js';
export * from './schedule.js';

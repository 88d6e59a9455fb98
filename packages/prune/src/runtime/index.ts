// Node-only parts of @shrink/prune: gradual pruning and fine-tuning in TensorFlow.js, the dispatch.
export * from './gradual.js';
export * from './prune-model.js';

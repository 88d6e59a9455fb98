// Node-only parts of @shrink/prune: gradual pruning and fine-tuning in TensorFlow.js.
export {};

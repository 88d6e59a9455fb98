// Node-only: onnxruntime-node sessions and the measurements that need them.
export * from './session.js';
export * from './tensors.js';
export * from './intermediates.js';
export * from './feeds.js';
export * from './evaluate.js';
export * from './fidelity.js';
export * from './latency.js';
export * from './energy.js';
export * from './environment.js';
export * from './cpu.js';
export * from './profile.js';
export * from './guard-check.js';
export * from './layer-errors.js';
export * from './accuracy-fallback.js';
export * from './run-pass.js';

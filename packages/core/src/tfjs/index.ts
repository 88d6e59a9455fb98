// TensorFlow.js: backend choice, training presets, tfjs model directories, tfjs <-> ONNX conversion.
export * from './backend.js';
export * from './presets.js';
export * from './train.js';
export * from './layers-io.js';
export * from './wasm-kernels.js';
export * from './export.js';
export * from './import.js';
export * from './layers-output-kind.js';
export * from './label-loss.js';
export * from './trained-weights.js';

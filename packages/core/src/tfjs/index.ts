// TensorFlow.js: backend choice, training presets, tfjs model directories, tfjs <-> ONNX conversion.
export {};
export * from './export.js';
export * from './import.js';

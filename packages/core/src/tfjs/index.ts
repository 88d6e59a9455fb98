// TensorFlow.js: backend choice, training presets, tfjs model directories, tfjs <-> ONNX conversion.
export {};

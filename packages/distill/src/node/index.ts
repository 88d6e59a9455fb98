// Node-only parts of @shrink/distill: teacher inference (onnxruntime) and student training (TensorFlow.js).
export * from './distill-model.js';

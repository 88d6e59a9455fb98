// Node-only parts of @shrink/distill: teacher inference (onnxruntime) and student training (TensorFlow.js).
export * from './distill-model.js';
export * from './teacher.js';
export * from './teacher-cache.js';
export * from './student.js';
export * from './losses.js';
export * from './train-student.js';
export * from './init-from-teacher.js';

// Node-only parts of @shrink/quantize: calibration through onnxruntime, the quantize dispatch, tfjs folders.
export * from './calibrate.js';
export * from './quantize-model.js';
export * from './tfjs-folder.js';
export * from './explain.js';
export * from './fallback.js';
export * from '../stream/index.js';

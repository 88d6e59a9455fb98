// @shrink/quantize: portable passes (graph rewriting and quantization math only). Calibration, which
// runs models in onnxruntime, the dispatch that needs it, and tfjs folders live in '@shrink/quantize/runtime'.
export * from './options.js';
export * from './weight-format.js';
export * from './types.js';
export * from './math/round.js';
export * from './math/params.js';
export * from './dynamic.js';
export * from './static.js';
export * from './calibration/index.js';
export * from './nbits.js';
export * from './pack.js';
export * from './fp16.js';
export * from './tfjs-weights.js';

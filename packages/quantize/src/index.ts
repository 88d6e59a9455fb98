// @shrink/quantize: portable passes (graph rewriting and quantization math only). Calibration, which
// runs models in onnxruntime, and the tfjs-folder quantizer live in '@shrink/quantize/node'.
export * from './options.js';
export * from './types.js';

// Node-only parts of @shrink/quantize: calibration through onnxruntime, tfjs model folders.
export {};

// Portable part of @shrink/core: no fs, path or process, so passes built on it can run in a browser.
export * from './errors.js';
export * from './context.js';
export * from './options.js';
export * from './onnx/index.js';
export * from './measure/index.js';
export * from './report/index.js';
export * from './pass/index.js';
export * from './opset/index.js';
export * from './target/index.js';

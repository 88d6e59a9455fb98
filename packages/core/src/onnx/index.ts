export * from './proto.js';
export * from './codec.js';
export * from './tensor.js';
export * from './builder.js';
export * from './graph.js';
export * from './select.js';
export * from './nan.js';
export * from './shapes.js';

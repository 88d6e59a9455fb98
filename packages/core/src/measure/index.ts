export * from './params.js';
export * from './macs.js';
export * from './size.js';
export * from './stats.js';
export * from './ops.js';
export * from './divergence.js';
export * from './output-kind.js';
export * from './cosine.js';

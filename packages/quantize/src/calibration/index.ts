// Portable calibration: range collectors fed with float batches per tensor name.
export * from './collector.js';
export * from './histogram.js';
export * from './minmax.js';
export * from './percentile.js';
export * from './entropy.js';

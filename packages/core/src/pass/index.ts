export * from './pass.js';
export * from './accuracy-fallback-option.js';

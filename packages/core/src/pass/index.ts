export * from './pass.js';
export * from './accuracy-fallback-option.js';
export * from './speed-guard-option.js';

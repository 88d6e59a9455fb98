// Portable part of the target tables: no Node APIs (detect-isa.ts is exported from @shrink/core/runtime).
export * from './targets.js';
export * from './op-table.js';
export * from './check-target.js';
export * from './speed-regions.js';
export * from './kernel-paths.js';

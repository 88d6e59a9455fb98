// @shrink/cleanup: graph cleanup of ONNX models (portable: graph rewriting and tensor math only).
export * from './options.js';
export * from './types.js';
export { cleanupModel } from './cleanup-model.js';
export { cleanupNotes } from './cleanup-notes.js';
export { FOLD_OPS } from './ops/fold-table.js';
export type { FoldDecision, FoldedValue, FoldOp, FoldView } from './ops/fold-types.js';
export { MAX_FOLD_GROWTH } from './fold-constants.js';

/**
 * @shrink/core, @shrink/quantize and @shrink/prune for the benchmarks. The repository root is not a workspace
 * package depending on them, so `import '@shrink/core'` does not resolve from bench/; these are the
 * files the packages' `exports` map to under the `@shrink/source` condition that `pnpm bench` runs with.
 * Third-party modules (onnxruntime-node, tfjs) are reached through core for the same reason.
 */
export * from '../packages/core/src/index.js';
export * from '../packages/core/src/io/index.js';
export * from '../packages/core/src/runtime/index.js';
export * from '../packages/core/src/tfjs/index.js';
export { mulberry32, resolveData, resolveSplit, type Dataset } from '../packages/core/src/data/index.js';
export * from '../packages/quantize/src/index.js';
export * from '../packages/quantize/src/runtime/index.js';
// Both packages export a DTYPES list (ONNX tensor types; quantization dtype words): name each one.
export { DTYPES } from '../packages/core/src/index.js';
export { DTYPES as QUANT_DTYPES } from '../packages/quantize/src/index.js';
// @shrink/prune: named, since its select helpers share names with @shrink/quantize's.
export { pruneMagnitude, pruneStructured, type PruneOptions, type PruneReport, type PruneResult } from '../packages/prune/src/index.js';
export { fineTunePruned, pruneModel, type FineTuneSettings } from '../packages/prune/src/runtime/index.js';
export * from '../packages/distill/src/index.js';
export * from '../packages/distill/src/runtime/index.js';

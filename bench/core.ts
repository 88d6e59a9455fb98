/**
 * @shrink/core for the benchmarks. The repository root is not a workspace package depending on
 * @shrink/core, so `import '@shrink/core'` does not resolve from bench/; these are the files the
 * package's `exports` map to under the `@shrink/source` condition that `pnpm bench` runs with.
 * Third-party modules (onnxruntime-node, tfjs) are reached through core for the same reason.
 */
export * from '../packages/core/src/index.js';
export * from '../packages/core/src/io/index.js';
export * from '../packages/core/src/runtime/index.js';
export * from '../packages/core/src/tfjs/index.js';
export { mulberry32 } from '../packages/core/src/data/index.js';

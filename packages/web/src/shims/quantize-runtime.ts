/**
 * What `@shrink/quantize/pass` imports from its Node runtime entry when it runs, for the browser: the same
 * quantizeModel (with core's runtime swapped for shims/core-runtime.ts), without the tfjs folders, the
 * streamed path (worker_threads, fs) and the accuracy fallback. The pass definition itself is the CLI's.
 */
export { quantizeModel, resolveCalibration } from '../../../quantize/src/runtime/quantize-model.js';
export { isFeedSet } from '../../../quantize/src/runtime/calibrate.js';
export { explainQuantization } from '../../../quantize/src/runtime/explain.js';

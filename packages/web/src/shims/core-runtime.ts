/**
 * The browser's stand-in for `@shrink/core/runtime` (onnxruntime-node), swapped in by vite.config.ts only
 * where the passes' run path imports it. The page runs the passes with no session of their own: static
 * calibration, GPTQ Hessians, the per-layer error and fp16's range check need onnxruntime-node and say so
 * in one line (fp16 catches it and notes "range check not run", as the CLI does for a model it cannot run).
 */
import { ShrinkError } from '@shrink/core';

function needsNode(what: string): never {
  throw new ShrinkError('UNSUPPORTED_MODEL', `${what} runs the model in onnxruntime-node: use the CLI (shrink) for it`);
}

export const createSession = (): never => needsNode('this step');
export const readFeedSet = (): never => needsNode('a feeds file');
export const syntheticFeedSet = (): never => needsNode('synthetic calibration');
export const feedsFor = (): never => needsNode('calibration');
export const planInput = (): never => needsNode('calibration');
export const exposeIntermediates = (): never => needsNode('calibration');
export const tensorToFloat32 = (): never => needsNode('calibration');
export const layerErrors = (): never => needsNode('the per-layer error (explain)');
export const withAccuracyFallback = (): never => needsNode('the accuracy fallback');
export const isFeedsSpec = async (): Promise<boolean> => false;

/** The kernel note of a q8 model: the browser cannot see the CPU's instructions, and wasm's int8 dot kernels do not saturate. */
export function int8KernelPath(): { isa: string; instruction: string; int8Saturates: boolean | undefined } {
  return { isa: 'wasm', instruction: 'wasm SIMD (int32 sums)', int8Saturates: undefined };
}

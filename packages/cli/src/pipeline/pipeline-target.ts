/**
 * A pipeline's `target:` (default `cpu`, this machine) as every part of a run uses it: the Ctx the passes
 * and the speed guard see, the op-table check of each step's output (the CLI's targetNotes), the runtime
 * the models are measured in (measureCtx), and what the report says about it. A search's workers get only
 * the name (plain data) and rebuild the rest with pipelineTarget.
 */
import { kernelPaths, type Ctx, type KernelRow, type onnx, type TargetName, type TargetReport } from '@shrink/core';
import { int8KernelPath, targetReport } from '@shrink/core/runtime';
import { measureCtx, targetFromArgv, type TargetChoice } from '../target-flag.js';

/** The target of a config's `target:` name, with this machine's CPU detected. */
export function pipelineTarget(name: TargetName): TargetChoice {
  // targetFromArgv returns undefined only for an absent name; the config schema gave one.
  return targetFromArgv({ target: name })!;
}

/** The Ctx a pipeline's passes run with: the target in it, so runPass's speed guard runs there. */
export function passCtx(ctx: Ctx, t: TargetChoice): Ctx {
  return { ...ctx, target: t.context };
}

/** The Ctx models are measured with: onnxruntime-web's WASM backend for `wasm`, as the CLI's --target. */
export function measuringCtx(ctx: Ctx, t: TargetChoice): Ctx {
  return measureCtx(ctx, t);
}

/** The kernel each quantized op type of `model` reaches on the target (this machine's ISA for `cpu`). */
export function kernelsOn(model: onnx.IModelProto, t: TargetChoice): KernelRow[] {
  return kernelPaths(model, t.context, int8KernelPath().isa);
}

/**
 * The report's `target` object, with the threads the measurements used: evaluation.threads, else
 * ctx.threads where onnxruntime-node measured (onnxruntime-web's WASM sessions take only the explicit count, else 1).
 */
export function reportTarget(t: TargetChoice, threads: number | undefined, ctx: Ctx): TargetReport {
  const used = threads ?? (t.info.runtime === 'onnxruntime-web-wasm' ? undefined : ctx.threads);
  return targetReport(t.context, used !== undefined ? { threads: used } : {});
}

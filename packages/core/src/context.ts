/**
 * What a pass or long job may use besides its inputs: no global state.
 * Every field is optional so library callers can pass `{}`.
 */
import type { TargetContext } from './target/targets.js';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

/** Progress of one long job (an epoch loop, a benchmark). `total` may be unknown. */
export interface Progress {
  start(label: string, total?: number): void;
  tick(n?: number, detail?: string): void;
  stop(): void;
}

export interface Ctx {
  logger?: Logger;
  progress?: Progress;
  seed?: number;
  /** Intra-op threads for onnxruntime sessions. */
  threads?: number;
  /**
   * Which runtime sessions run in: onnxruntime-node's CPU provider (the default), or onnxruntime-web's WASM
   * backend in this process, for `--target wasm` (a candidate is measured where it will run).
   */
  runtime?: 'onnxruntime-node' | 'onnxruntime-web-wasm';
  /**
   * Where the output will run (--target, a config's `target:`): passes choose formats the target runs
   * fast, and the runner checks a quantized model's speed there (see runPass).
   */
  target?: TargetContext;
  signal?: AbortSignal;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {} };
export const noProgress: Progress = { start() {}, tick() {}, stop() {} };

export function loggerOf(ctx: Ctx | undefined): Logger {
  return ctx?.logger ?? silentLogger;
}
export function progressOf(ctx: Ctx | undefined): Progress {
  return ctx?.progress ?? noProgress;
}

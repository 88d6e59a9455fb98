/**
 * onnxruntime-web's WASM runtime behind core's Session interface, so that latency and fidelity measure a
 * `--target wasm` candidate where it will run: the same CPU kernels compiled to wasm (SIMD), whose int8
 * GEMM and op coverage differ from the native build's on some CPUs.
 *
 * onnxruntime-web is imported on first use: commands that never ask for it do not pay for loading it.
 * Its thread count is fixed for the process when the wasm module starts, so it is chosen once, here.
 */
import { readFileSync, statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import type { Ctx } from '../context.js';
import { ShrinkError } from '../errors.js';
import { prepareEncode } from '../onnx/codec.js';
import { PROTOBUF_MAX_BYTES } from '../onnx/proto.js';
import { isExternalTensor } from '../onnx/tensor.js';
import {
  checkedFeeds,
  oneLine,
  runChecked,
  type Feeds,
  type ModelSource,
  type Outputs,
  type Session,
  type SessionOptions,
  type ValueMeta,
} from './session.js';

type WebOrt = typeof import('onnxruntime-web');

export interface WebSessionOptions extends Omit<SessionOptions, 'threads'> {
  /**
   * WASM threads (1). Not ctx.threads: a page without cross-origin isolation gets one thread, so one is
   * what a browser user is sure to see. Fixed for the process by the first web session.
   */
  threads?: number;
}

export interface WebSession extends Session {
  readonly threads: number;
  /** Which runtime ran it, for reports: "onnxruntime-web 1.30.0 WASM (SIMD), 1 thread". */
  readonly runtime: string;
}

interface WebRuntime {
  readonly ort: WebOrt;
  readonly threads: number;
  readonly name: string;
}

let started: { threads: number; runtime: Promise<WebRuntime> } | undefined;

async function startRuntime(threads: number): Promise<WebRuntime> {
  const web = await import('onnxruntime-web');
  web.env.wasm.numThreads = threads;
  // The node build reads its .wasm beside itself; no fetch, no network.
  web.env.wasm.proxy = false;
  return { ort: web, threads, name: `onnxruntime-web ${web.env.versions.web ?? '?'}` };
}

function runtimeFor(threads: number): Promise<WebRuntime> {
  if (!Number.isInteger(threads) || threads < 1)
    throw new ShrinkError('INVALID_ARGUMENT', `onnxruntime-web threads must be a positive integer, got ${threads}`, { option: 'threads' });
  if (started === undefined) started = { threads, runtime: startRuntime(threads) };
  else if (started.threads !== threads) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `onnxruntime-web's WASM runtime already runs with ${started.threads} thread(s) in this process and cannot change to ${threads}`,
      { option: 'threads' },
    );
  }
  return started.runtime;
}

/** ort-web reports an unnamed symbolic dim as -1 read unsigned (4294967295); ort-node as ''. */
function toMeta(m: ort.InferenceSession.ValueMetadata): ValueMeta {
  if (!m.isTensor) return { name: m.name, isTensor: false };
  const shape = m.shape.map((d) => (typeof d === 'number' && (d < 0 || d > 0x7fffffff) ? '' : d));
  return { name: m.name, isTensor: true, type: m.type, shape };
}

class OrtWebSession implements WebSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputs: readonly ValueMeta[];
  readonly outputs: readonly ValueMeta[];
  readonly threads: number;
  readonly runtime: string;

  constructor(
    readonly ort: ort.InferenceSession,
    readonly source: string,
    private readonly rt: WebRuntime,
  ) {
    this.inputNames = [...ort.inputNames];
    this.outputNames = [...ort.outputNames];
    this.inputs = ort.inputMetadata.map(toMeta);
    this.outputs = ort.outputMetadata.map(toMeta);
    this.threads = rt.threads;
    this.runtime = `${rt.name} WASM (SIMD), ${rt.threads} thread${rt.threads === 1 ? '' : 's'}`;
  }

  // The same checks as the onnxruntime-node session's, so a feed is refused alike on both runtimes; ort-web
  // takes onnxruntime-node's tensors as they are (both are onnxruntime-common tensors).
  toOrtFeeds(feeds: Feeds): Record<string, ort.Tensor> {
    const web = this.rt.ort;
    return checkedFeeds(
      this,
      feeds,
      (f): f is ort.Tensor => f instanceof ort.Tensor || f instanceof web.Tensor,
      (type, data, dims) => new web.Tensor(type, data, dims),
    );
  }

  run(feeds: Feeds, outputNames?: readonly string[]): Promise<Outputs> {
    return runChecked(this, feeds, outputNames, `${this.rt.name} (WASM)`);
  }

  release(): Promise<void> {
    return this.ort.release();
  }
}

function loadError(source: string, name: string, e: unknown): ShrinkError {
  const msg = oneLine(e);
  const code = /is not a registered function\/op|No Op registered for|Could not find an implementation|not implemented/i.test(msg)
    ? 'UNSUPPORTED_OP'
    : 'INVALID_MODEL';
  return new ShrinkError(code, `${source}: ${name} (WASM) cannot load the model: ${msg}`, { cause: e });
}

function tooLarge(source: string, bytes: number): ShrinkError {
  return new ShrinkError('UNSUPPORTED_MODEL', `${source}: the encoded model is ${bytes} bytes; onnxruntime-web loads at most 2 GiB`);
}

function bytesOf(model: ModelSource, source: string): Uint8Array {
  if (typeof model === 'string') {
    let size: number;
    try {
      const st = statSync(model);
      if (!st.isFile()) throw new ShrinkError('INVALID_ARGUMENT', `model path ${model} is not a file`);
      size = st.size;
    } catch (e) {
      if (e instanceof ShrinkError) throw e;
      throw new ShrinkError('NOT_FOUND', `model file ${model} does not exist`);
    }
    if (size > PROTOBUF_MAX_BYTES) throw tooLarge(source, size);
    return readFileSync(model);
  }
  if (model instanceof Uint8Array) {
    if (model.length > PROTOBUF_MAX_BYTES) throw tooLarge(source, model.length);
    return model;
  }
  for (const t of model.graph?.initializer ?? []) {
    if (isExternalTensor(t)) {
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `${source}: initializer '${t.name ?? ''}' lives in an external data file, which the onnxruntime-web session does not load; inline it first`,
      );
    }
  }
  const enc = prepareEncode(model);
  if (enc.byteLength > PROTOBUF_MAX_BYTES) throw tooLarge(source, enc.byteLength);
  return enc.finish();
}

/**
 * An onnxruntime-web session on its WASM backend, run in this Node process. The same Session as
 * createSession's, plus `runtime` naming the build. Release it when done: it holds wasm memory.
 */
export async function createWebSession(model: ModelSource, opts: WebSessionOptions = {}, _ctx?: Ctx): Promise<WebSession> {
  const source = opts.label ?? (typeof model === 'string' ? model : '<in-memory model>');
  const threads = opts.threads ?? 1;
  const rt = await runtimeFor(threads);
  const bytes = bytesOf(model, source);
  const webOpts: ort.InferenceSession.SessionOptions = {
    executionProviders: ['wasm'],
    logSeverityLevel: opts.logSeverityLevel ?? 4,
    intraOpNumThreads: threads,
  };
  if (opts.interOpThreads !== undefined) webOpts.interOpNumThreads = opts.interOpThreads;
  if (opts.optimizationLevel !== undefined) webOpts.graphOptimizationLevel = opts.optimizationLevel;
  if (opts.executionMode !== undefined) webOpts.executionMode = opts.executionMode;
  try {
    return new OrtWebSession(await rt.ort.InferenceSession.create(bytes, webOpts), source, rt);
  } catch (e) {
    throw loadError(source, rt.name, e);
  }
}

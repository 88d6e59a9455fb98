/**
 * onnxruntime-node sessions behind one small interface: load from a ModelProto, bytes or a path; feed
 * plain `{ data, dims }` or ort tensors; get errors that name the model and the input at fault.
 *
 * Models over 2 GiB must be loaded from a path: protobuf (and so onnxruntime, reading from memory)
 * stops at 2 GiB - 1, while a file with external data (`<name>.onnx_data`) has no such limit.
 */
import { statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import type { Ctx } from '../context.js';
import { ShrinkError } from '../errors.js';
import { prepareEncode } from '../onnx/codec.js';
import { PROTOBUF_MAX_BYTES, type onnx } from '../onnx/proto.js';
import { isExternalTensor, tensorNumel, type TensorData } from '../onnx/tensor.js';

export type ModelSource = onnx.IModelProto | Uint8Array | string;
export type TensorType = ort.Tensor.Type;

export interface SessionOptions {
  /** Intra-op threads; onnxruntime's default (one per physical core) when unset. Falls back to ctx.threads. */
  threads?: number;
  interOpThreads?: number;
  optimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  executionMode?: 'sequential' | 'parallel';
  /** onnxruntime log severity: 0 verbose .. 4 fatal; 4 by default: ort's errors come back as ShrinkErrors, printing them too would say it twice. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** How errors name the model when it is not a path (e.g. "baseline"). */
  label?: string;
  /** onnxruntime-node only: write onnxruntime's per-node profile (JSON) to files starting with this path. */
  profileFilePrefix?: string;
  /**
   * false: intra-op threads sleep when idle instead of spinning. Two sessions timed side by side need it on
   * a small machine: the one that just ran keeps its threads spinning and slows the other one down.
   */
  spinning?: boolean;
}

/** What onnxruntime says about an input or output. `shape`: numbers are fixed dims, strings symbolic ('' = unnamed). */
export interface ValueMeta {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: TensorType;
  readonly shape?: readonly (number | string)[];
}

/** The typed arrays a feed may hold: the same set the tensor codec reads and writes. */
export type TypedArray = TensorData;

/** A tensor as plain data; `type` defaults to the model input's type, then to what the array holds. */
export interface FeedTensor {
  readonly data: TypedArray;
  readonly dims: readonly number[];
  readonly type?: TensorType;
}

export type Feeds = Readonly<Record<string, ort.Tensor | FeedTensor>>;
export type Outputs = Record<string, ort.Tensor>;

export interface Session {
  /** The path, or the label / "<in-memory model>" used in messages. */
  readonly source: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputs: readonly ValueMeta[];
  readonly outputs: readonly ValueMeta[];
  /** Intra-op threads asked for (undefined = onnxruntime's default). */
  readonly threads: number | undefined;
  /** Which runtime runs it, for reports: "onnxruntime-web 1.30.0 WASM (SIMD), 1 thread"; onnxruntime-node's CPU provider when absent. */
  readonly runtime?: string;
  /** The underlying onnxruntime session, for callers that time raw runs. */
  readonly ort: ort.InferenceSession;
  /** Checks feeds against the model's inputs and turns them into ort tensors. */
  toOrtFeeds(feeds: Feeds): Record<string, ort.Tensor>;
  run(feeds: Feeds, outputNames?: readonly string[]): Promise<Outputs>;
  release(): Promise<void>;
}

const TYPE_OF_ARRAY: ReadonlyArray<readonly [new (n: number) => TypedArray, TensorType]> = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int8Array, 'int8'],
  [Uint8Array, 'uint8'],
  [Int16Array, 'int16'],
  [Uint16Array, 'uint16'],
  [Int32Array, 'int32'],
  [Uint32Array, 'uint32'],
  [BigInt64Array, 'int64'],
  [BigUint64Array, 'uint64'],
];

function typeOfArray(data: TypedArray): TensorType | undefined {
  return TYPE_OF_ARRAY.find(([C]) => data instanceof C)?.[1];
}

export function formatShape(shape: readonly (number | string)[] | undefined): string {
  if (shape === undefined) return '[?]';
  return `[${shape.map((d) => (typeof d === 'number' ? String(d) : d === '' ? '?' : d)).join(', ')}]`;
}

export function describeValue(m: ValueMeta): string {
  return m.isTensor ? `'${m.name}' (${m.type ?? '?'} ${formatShape(m.shape)})` : `'${m.name}' (not a tensor)`;
}

/** One line of an onnxruntime message: ort's errors span lines and repeat the file path. */
/** An onnxruntime error as one line ("Can't create a session. ERROR_CODE: 7, ERROR_MESSAGE: <what>": only <what>, from onnxruntime-web). */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg
    .replace(/^.*?ERROR_MESSAGE:\s*/s, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

function toMeta(m: ort.InferenceSession.ValueMetadata): ValueMeta {
  return m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false };
}

/**
 * `feeds` checked against a session's inputs (names, element types, fixed dims) and turned into tensors
 * by `make`; a tensor `isTensor` accepts passes as it is. Every runtime's session refuses a feed alike.
 */
export function checkedFeeds(
  s: Pick<Session, 'source' | 'inputNames' | 'inputs'>,
  feeds: Feeds,
  isTensor: (f: Feeds[string]) => f is ort.Tensor,
  make: (type: TensorType, data: TypedArray, dims: readonly number[]) => ort.Tensor,
): Record<string, ort.Tensor> {
  const bad = (message: string) => new ShrinkError('INVALID_ARGUMENT', `${s.source}: ${message}`);
  const out: Record<string, ort.Tensor> = {};
  const expected = s.inputs.map(describeValue).join(', ');
  for (const name of Object.keys(feeds)) {
    if (!s.inputNames.includes(name)) throw bad(`feed '${name}' is not a model input; inputs: ${expected}`);
  }
  for (const meta of s.inputs) {
    const f = feeds[meta.name];
    if (f === undefined) throw bad(`input ${describeValue(meta)} is missing from the feeds`);
    let t: ort.Tensor;
    if (isTensor(f)) {
      t = f;
    } else {
      const type = f.type ?? meta.type ?? typeOfArray(f.data);
      if (type === undefined) throw bad(`input '${meta.name}': cannot tell the element type of its data`);
      const numel = tensorNumel(f.dims);
      if (numel !== f.data.length) {
        throw bad(`input '${meta.name}': dims ${formatShape(f.dims)} need ${numel} values but the data holds ${f.data.length}`);
      }
      try {
        t = make(type, f.data, f.dims);
      } catch (e) {
        throw bad(`input '${meta.name}': ${oneLine(e)} (model wants ${describeValue(meta)})`);
      }
    }
    if (meta.isTensor && meta.type !== undefined && t.type !== meta.type) {
      throw bad(`input '${meta.name}' is ${t.type} but the model wants ${describeValue(meta)}`);
    }
    const shape = meta.shape;
    // ort reports [] both for scalars and for unknown shapes, so only a non-empty shape can be checked.
    if (shape !== undefined && shape.length > 0) {
      const fits = t.dims.length === shape.length && shape.every((d, i) => typeof d !== 'number' || d < 0 || d === t.dims[i]);
      if (!fits) throw bad(`input '${meta.name}' has dims ${formatShape(t.dims)} but the model wants ${describeValue(meta)}`);
    }
    out[meta.name] = t;
  }
  return out;
}

/**
 * Runs `feeds` (checked by the session's toOrtFeeds) on `s.ort`: an output name the model lacks, or a run
 * that fails, is one clear error naming `runtime` and the feeds' shapes.
 */
export async function runChecked(s: Session, feeds: Feeds, outputNames: readonly string[] | undefined, runtime: string): Promise<Outputs> {
  const ortFeeds = s.toOrtFeeds(feeds);
  for (const n of outputNames ?? []) {
    if (!s.outputNames.includes(n))
      throw new ShrinkError('INVALID_ARGUMENT', `${s.source}: '${n}' is not a model output; outputs: ${s.outputNames.join(', ')}`);
  }
  try {
    return outputNames === undefined ? await s.ort.run(ortFeeds) : await s.ort.run(ortFeeds, outputNames);
  } catch (e) {
    const shapes = Object.entries(ortFeeds)
      .map(([k, v]) => `${k} ${v.type} ${formatShape(v.dims)}`)
      .join(', ');
    throw new ShrinkError('RUNTIME', `${s.source}: ${runtime} failed to run on ${shapes}: ${oneLine(e)}`, { cause: e });
  }
}

class OrtSession implements Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputs: readonly ValueMeta[];
  readonly outputs: readonly ValueMeta[];

  constructor(
    readonly ort: ort.InferenceSession,
    readonly source: string,
    readonly threads: number | undefined,
  ) {
    this.inputNames = [...ort.inputNames];
    this.outputNames = [...ort.outputNames];
    this.inputs = ort.inputMetadata.map(toMeta);
    this.outputs = ort.outputMetadata.map(toMeta);
  }

  toOrtFeeds(feeds: Feeds): Record<string, ort.Tensor> {
    return checkedFeeds(
      this,
      feeds,
      (f): f is ort.Tensor => f instanceof ort.Tensor,
      (type, data, dims) => new ort.Tensor(type, data, dims),
    );
  }

  run(feeds: Feeds, outputNames?: readonly string[]): Promise<Outputs> {
    return runChecked(this, feeds, outputNames, 'onnxruntime');
  }

  release(): Promise<void> {
    return this.ort.release();
  }
}

function loadError(source: string, e: unknown): ShrinkError {
  const msg = oneLine(e);
  const code = /is not a registered function\/op|Could not find an implementation|not implemented/i.test(msg)
    ? 'UNSUPPORTED_OP'
    : /File doesn't exist|No such file/i.test(msg)
      ? 'NOT_FOUND'
      : 'INVALID_MODEL';
  return new ShrinkError(code, `${source}: onnxruntime cannot load the model: ${msg}`, { cause: e });
}

function tooLarge(source: string, bytes: string): ShrinkError {
  return new ShrinkError(
    'UNSUPPORTED_MODEL',
    `${source}: the encoded model is ${bytes}; onnxruntime loads at most 2 GiB from memory — save it with external data and load it from its path`,
  );
}

function modelBytes(model: onnx.IModelProto, source: string): Uint8Array {
  for (const t of model.graph?.initializer ?? []) {
    if (isExternalTensor(t)) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `${source}: initializer '${t.name ?? ''}' lives in an external data file; create the session from the model's path so onnxruntime finds it`,
      );
    }
  }
  // The size is known before the tensor bytes are copied, so a > 2 GiB model is refused cheaply.
  const enc = prepareEncode(model);
  if (enc.byteLength > PROTOBUF_MAX_BYTES) throw tooLarge(source, `${enc.byteLength} bytes`);
  return enc.finish();
}

/**
 * An onnxruntime-node session on the CPU provider (onnxruntime-web's WASM backend when ctx.runtime says so).
 * Release it when done: it holds native memory.
 */
export async function createSession(model: ModelSource, opts: SessionOptions = {}, ctx?: Ctx): Promise<Session> {
  // Imported when asked for: the web runtime costs a wasm compile, and most commands never use it.
  if (ctx?.runtime === 'onnxruntime-web-wasm') return (await import('./web-session.js')).createWebSession(model, opts, ctx);
  const threads = opts.threads ?? ctx?.threads;
  const ortOpts: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    logSeverityLevel: opts.logSeverityLevel ?? 4,
  };
  if (threads !== undefined) {
    if (!Number.isInteger(threads) || threads < 1)
      throw new ShrinkError('INVALID_ARGUMENT', `threads must be a positive integer, got ${threads}`);
    ortOpts.intraOpNumThreads = threads;
  }
  if (opts.interOpThreads !== undefined) ortOpts.interOpNumThreads = opts.interOpThreads;
  if (opts.optimizationLevel !== undefined) ortOpts.graphOptimizationLevel = opts.optimizationLevel;
  if (opts.executionMode !== undefined) ortOpts.executionMode = opts.executionMode;
  if (opts.spinning === false) ortOpts.extra = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
  if (opts.profileFilePrefix !== undefined) {
    ortOpts.enableProfiling = true;
    ortOpts.profileFilePrefix = opts.profileFilePrefix;
  }

  if (typeof model === 'string') {
    const source = opts.label ?? model;
    let isFile: boolean;
    try {
      isFile = statSync(model).isFile();
    } catch {
      throw new ShrinkError('NOT_FOUND', `model file ${model} does not exist`);
    }
    if (!isFile) throw new ShrinkError('INVALID_ARGUMENT', `model path ${model} is not a file`);
    try {
      return new OrtSession(await ort.InferenceSession.create(model, ortOpts), source, threads);
    } catch (e) {
      throw loadError(source, e);
    }
  }
  const source = opts.label ?? '<in-memory model>';
  let bytes: Uint8Array;
  if (model instanceof Uint8Array) {
    if (model.length > PROTOBUF_MAX_BYTES) throw tooLarge(source, `${model.length} bytes`);
    bytes = model;
  } else {
    bytes = modelBytes(model, source);
  }
  try {
    return new OrtSession(await ort.InferenceSession.create(bytes, ortOpts), source, threads);
  } catch (e) {
    throw loadError(source, e);
  }
}

/** Runs `fn` with a session and releases the session afterwards, also when `fn` throws. */
export async function withSession<T>(model: ModelSource, opts: SessionOptions, fn: (s: Session) => Promise<T>, ctx?: Ctx): Promise<T> {
  const s = await createSession(model, opts, ctx);
  try {
    return await fn(s);
  } finally {
    await s.release();
  }
}

/**
 * ModelProto <-> bytes. Portable (Uint8Array only): file handling and external data live in io/.
 * Decoding keeps raw_data as views on `bytes` (no copy), so keep `bytes` unchanged while the model lives.
 */
import { ShrinkError } from '../errors.js';
import { PROTOBUF_MAX_BYTES, onnx, toNumber } from './proto.js';

/** Decodes a serialized ModelProto; anything that is not one becomes INVALID_MODEL naming `source`. */
export function decodeModel(bytes: Uint8Array, source = 'model bytes'): onnx.ModelProto {
  const notModel = (why: string, cause?: unknown): ShrinkError =>
    new ShrinkError('INVALID_MODEL', `${source}: not an ONNX model (${why}); expected a serialized onnx.ModelProto`, { cause });
  if (!(bytes instanceof Uint8Array)) {
    throw new ShrinkError('INVALID_ARGUMENT', `${source}: expected the model as a Uint8Array, got ${typeof bytes}`);
  }
  if (bytes.length === 0) throw notModel('empty input');
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const why = /index out of range/.test(msg) ? `truncated or corrupt protobuf: ${msg}` : `corrupt protobuf: ${msg}`;
    throw notModel(why, e);
  }
  // Random bytes sometimes decode into a message; a model needs at least these three.
  let ir: number;
  try {
    ir = toNumber(model.irVersion);
  } catch (e) {
    throw notModel('ir_version beyond 2^53', e);
  }
  if (ir <= 0) throw notModel(ir === 0 ? 'no ir_version' : `ir_version ${ir} is not positive`);
  if (!model.graph) throw notModel('no graph');
  if (model.opsetImport.length === 0) throw notModel('no opset_import');
  return model;
}

/** An encoding whose size is known before the bytes are produced; use `finish` or `chunks`, once. */
export interface PreparedEncoding {
  readonly byteLength: number;
  /** The whole encoding in one buffer (throws UNSUPPORTED_MODEL past 2 GiB). */
  finish(): Uint8Array;
  /**
   * The encoding as consecutive pieces, for streaming to a file without building one big buffer:
   * large byte fields (tensor data) are yielded as the model's own arrays, the rest is packed into
   * fresh small buffers.
   */
  chunks(): Generator<Uint8Array>;
}

// protobufjs 6 Writer internals: a linked list of deferred writes that `finish` runs into one buffer.
interface WriterOp {
  fn(val: unknown, buf: Uint8Array, pos: number): void;
  len: number;
  val: unknown;
  next: WriterOp | null | undefined;
}
interface WriterInternals {
  head: WriterOp;
  constructor: { alloc(size: number): Uint8Array };
}

const STAGING_BYTES = 1 << 20;
const DIRECT_BYTES = 64 << 10;

function* streamOps(writer: WriterInternals, total: number): Generator<Uint8Array> {
  let staging = writer.constructor.alloc(STAGING_BYTES);
  let used = 0;
  let emitted = 0;
  // The staged bytes, if any; staging goes on in a fresh buffer because the consumer may keep the view.
  const takeStaged = (): Uint8Array | undefined => {
    if (used === 0) return undefined;
    const out = staging.subarray(0, used);
    emitted += used;
    staging = writer.constructor.alloc(STAGING_BYTES);
    used = 0;
    return out;
  };
  for (let op = writer.head.next; op; op = op.next) {
    // Byte fields copy `val` verbatim (writeBytes*), so they can be yielded instead of copied.
    if (op.len >= DIRECT_BYTES && op.val instanceof Uint8Array && op.val.length === op.len) {
      const staged = takeStaged();
      if (staged) yield staged;
      yield op.val;
      emitted += op.len;
      continue;
    }
    if (used + op.len > STAGING_BYTES) {
      const staged = takeStaged();
      if (staged) yield staged;
      if (op.len > STAGING_BYTES) {
        const own = writer.constructor.alloc(op.len);
        op.fn(op.val, own, 0);
        yield own;
        emitted += op.len;
        continue;
      }
    }
    op.fn(op.val, staging, used);
    used += op.len;
  }
  if (used > 0) {
    yield staging.subarray(0, used);
    emitted += used;
  }
  if (emitted !== total) throw new Error(`streamed ${emitted} of ${total} bytes`);
}

/**
 * Lays out the encoding of `model` without copying tensor bytes yet, so a caller can check the size
 * (e.g. against protobuf's 2 GiB limit, to switch to external data) before paying for the copy.
 */
export function prepareEncode(model: onnx.IModelProto): PreparedEncoding {
  let writer: ReturnType<typeof onnx.ModelProto.encode> | null;
  try {
    writer = onnx.ModelProto.encode(model);
  } catch (e) {
    if (e instanceof ShrinkError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new ShrinkError('INVALID_MODEL', `cannot encode model: ${msg}; expected onnx.ModelProto fields of the schema's types`, {
      cause: e,
    });
  }
  const byteLength = writer.len;
  const take = (): ReturnType<typeof onnx.ModelProto.encode> => {
    if (writer === null) throw new ShrinkError('INVALID_ARGUMENT', 'prepareEncode: the encoding was already taken');
    if (byteLength > PROTOBUF_MAX_BYTES) {
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `model encodes to ${byteLength} bytes, over protobuf's 2 GiB limit; save it with external data (saveModel with externalData)`,
      );
    }
    const w = writer;
    writer = null;
    return w;
  };
  return {
    byteLength,
    finish: () => take().finish(),
    chunks(): Generator<Uint8Array> {
      const w = take() as unknown as WriterInternals;
      return streamOps(w, byteLength);
    },
  };
}

/** Serializes a model; throws UNSUPPORTED_MODEL past protobuf's 2 GiB limit. */
export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return prepareEncode(model).finish();
}

/**
 * The ONNX protobuf schema (onnx-proto: protobufjs 6 static code for onnx 1.10 / IR 8), made lossless
 * for fields added after that schema.
 *
 * Why: ModelProto is Shrink's source of truth and must pass through what Shrink does not understand.
 * protobufjs 6 static decoders skip unknown fields (`reader.skipType`) and its encoders never write
 * them, so an IR 10/11 model would silently lose e.g. NodeProto.overload (8) / metadata_props (9),
 * ValueInfoProto.metadata_props (4), TensorProto/GraphProto.metadata_props (16), FunctionProto
 * attribute_proto/value_info/overload/metadata_props (11-14) and ModelProto.configuration (26).
 * onnx-proto's schema cannot be regenerated here, so every message type's `decode`/`encode`/`fromObject`
 * is wrapped once at module load:
 * - decode: the reader is instrumented so that each `skipType` call made by a generated decoder (the
 *   only thing it does with an unknown tag, right after reading that tag with `uint32`) records the
 *   byte range tag + payload. The range goes to the message whose decode is running: each wrapped
 *   decode pushes a frame on the reader's stack (nested messages go through `$root.onnx.X.decode`,
 *   i.e. through the wrappers too).
 * - encode: the recorded fields are appended verbatim after the known ones. Every field added since
 *   IR 8 has a higher number than the known fields of its message, so a model written in field order
 *   (as protobuf does) re-encodes byte for byte.
 * The raw fields live in an enumerable `$unknown` property (views on the input bytes, like raw_data),
 * so object spread, `Object.assign` and `onnx.X.create({...msg})` carry them along. `toObject`/`toJSON`
 * do not include them.
 */
import onnxProto from 'onnx-proto';
import protobuf from 'protobufjs/minimal.js';
import { ShrinkError } from '../errors.js';

export import onnx = onnxProto.onnx;

/** Unknown (newer-schema) fields of a message: each element is one field as wire bytes, tag included. */
export interface UnknownFields {
  $unknown?: Uint8Array[];
}

declare module 'onnx-proto' {
  // Adds `$unknown` to every message class and its properties interface (declaration merging).
  namespace onnx {
    interface IAttributeProto extends UnknownFields {}
    interface AttributeProto extends UnknownFields {}
    interface IValueInfoProto extends UnknownFields {}
    interface ValueInfoProto extends UnknownFields {}
    interface INodeProto extends UnknownFields {}
    interface NodeProto extends UnknownFields {}
    interface ITrainingInfoProto extends UnknownFields {}
    interface TrainingInfoProto extends UnknownFields {}
    interface IModelProto extends UnknownFields {}
    interface ModelProto extends UnknownFields {}
    interface IStringStringEntryProto extends UnknownFields {}
    interface StringStringEntryProto extends UnknownFields {}
    interface ITensorAnnotation extends UnknownFields {}
    interface TensorAnnotation extends UnknownFields {}
    interface IGraphProto extends UnknownFields {}
    interface GraphProto extends UnknownFields {}
    interface ITensorProto extends UnknownFields {}
    interface TensorProto extends UnknownFields {}
    interface ISparseTensorProto extends UnknownFields {}
    interface SparseTensorProto extends UnknownFields {}
    interface ITensorShapeProto extends UnknownFields {}
    interface TensorShapeProto extends UnknownFields {}
    interface ITypeProto extends UnknownFields {}
    interface TypeProto extends UnknownFields {}
    interface IOperatorSetIdProto extends UnknownFields {}
    interface OperatorSetIdProto extends UnknownFields {}
    interface IFunctionProto extends UnknownFields {}
    interface FunctionProto extends UnknownFields {}
    namespace TensorProto {
      interface ISegment extends UnknownFields {}
      interface Segment extends UnknownFields {}
    }
    namespace TensorShapeProto {
      interface IDimension extends UnknownFields {}
      interface Dimension extends UnknownFields {}
    }
    namespace TypeProto {
      interface ITensor extends UnknownFields {}
      interface Tensor extends UnknownFields {}
      interface ISequence extends UnknownFields {}
      interface Sequence extends UnknownFields {}
      interface IMap extends UnknownFields {}
      interface Map extends UnknownFields {}
      interface IOptional extends UnknownFields {}
      interface Optional extends UnknownFields {}
      interface ISparseTensor extends UnknownFields {}
      interface SparseTensor extends UnknownFields {}
    }
  }
}

/** Largest message protobuf (and so onnxruntime, loading from bytes) accepts: 2 GiB - 1. */
export const PROTOBUF_MAX_BYTES = 2 ** 31 - 1;

/** int64 fields decode as long.js `Long`s (plain numbers when built by hand); the part Shrink uses. */
export interface Long {
  low: number;
  high: number;
  unsigned: boolean;
  toNumber(): number;
  toString(): string;
}

/** An int64 field as a JS number; throws UNSUPPORTED_MODEL past 2^53, where a number would round. */
export function toNumber(v: number | Long | null | undefined, what = 'int64 value'): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  const hi = v.unsigned ? v.high >>> 0 : v.high;
  const n = hi * 2 ** 32 + (v.low >>> 0);
  if (!Number.isSafeInteger(n)) {
    const exact = (BigInt(hi) << 32n) + BigInt(v.low >>> 0);
    throw new ShrinkError('UNSUPPORTED_MODEL', `${what} ${exact} does not fit a JS number exactly (|v| > 2^53)`);
  }
  return n;
}

// --- unknown-field preservation -------------------------------------------------------------------

type Frame = Uint8Array[] | null;

interface Tracked {
  /** One entry per wrapped decode running on this reader; the innermost message is last. */
  stack: Frame[];
  /** Where the last `uint32` (for a skipped field: its tag) started. */
  lastUint32Start: number;
  skipping: boolean;
  /** The reader's own `uint32`/`skipType` properties before instrumenting (normally none). */
  restore: [string, PropertyDescriptor][];
}

const tracked = new WeakMap<protobuf.Reader, Tracked>();

// The generated code checks `reader instanceof $Reader` of the protobufjs copy onnx-proto loaded; ours
// must be the same copy, which is also the one holding onnx-proto's root.
if (protobuf.roots['default'] !== (onnxProto as unknown)) {
  throw new Error('onnx-proto and @shrink/core resolved different protobufjs copies; dedupe protobufjs 6');
}

function instrument(reader: protobuf.Reader): Tracked {
  const restore = ['uint32', 'skipType'].flatMap((k): [string, PropertyDescriptor][] => {
    const d = Object.getOwnPropertyDescriptor(reader, k);
    return d ? [[k, d]] : [];
  });
  const state: Tracked = { stack: [], lastUint32Start: 0, skipping: false, restore };
  const baseUint32 = reader.uint32;
  const baseSkipType = reader.skipType;
  reader.uint32 = function uint32(this: protobuf.Reader): number {
    state.lastUint32Start = this.pos;
    return baseUint32.call(this);
  };
  reader.skipType = function skipType(this: protobuf.Reader, wireType: number): protobuf.Reader {
    // Groups make skipType recurse; only the outermost call is a field of the current message.
    if (state.skipping) return baseSkipType.call(this, wireType);
    const start = state.lastUint32Start;
    state.skipping = true;
    try {
      baseSkipType.call(this, wireType);
    } finally {
      state.skipping = false;
    }
    const top = state.stack.length - 1;
    if (top >= 0) (state.stack[top] ??= []).push(this.buf.subarray(start, this.pos));
    return this;
  };
  tracked.set(reader, state);
  return state;
}

function uninstrument(reader: protobuf.Reader, state: Tracked): void {
  // The instrumentation lives in own properties shadowing the prototype's methods; put back what was there.
  Reflect.deleteProperty(reader, 'uint32');
  Reflect.deleteProperty(reader, 'skipType');
  for (const [k, d] of state.restore) Object.defineProperty(reader, k, d);
  tracked.delete(reader);
}

function writeRaw(val: Uint8Array, buf: Uint8Array, pos: number): void {
  buf.set(val, pos);
}

interface WriterInternals {
  _push(fn: (val: Uint8Array, buf: Uint8Array, pos: number) => void, len: number, val: Uint8Array): protobuf.Writer;
}

function checkUnknown(unknown: unknown): asserts unknown is Uint8Array[] {
  if (!Array.isArray(unknown) || !unknown.every((b) => b instanceof Uint8Array)) {
    throw new ShrinkError('INVALID_ARGUMENT', '$unknown must be an array of Uint8Array (raw protobuf fields)');
  }
}

interface MessageType {
  decode(reader: protobuf.Reader | Uint8Array, length?: number): UnknownFields;
  encode(message: UnknownFields, writer?: protobuf.Writer): protobuf.Writer;
  fromObject(object: Record<string, unknown>): UnknownFields;
}

const WRAPPED = Symbol.for('shrink.onnx.unknownFieldsWrapped');

function wrap(type: MessageType): void {
  const decode = type.decode;
  const encode = type.encode;
  const fromObject = type.fromObject;
  type.decode = function wrappedDecode(input: protobuf.Reader | Uint8Array, length?: number): UnknownFields {
    const reader = input instanceof protobuf.Reader ? input : protobuf.Reader.create(input);
    let state = tracked.get(reader);
    const outermost = state === undefined;
    state ??= instrument(reader);
    const depth = state.stack.push(null);
    let frame: Frame;
    let message: UnknownFields;
    try {
      message = decode(reader, length);
    } finally {
      // Unwinds even when decode throws, so a caller's reader is left as it was given.
      frame = state.stack[depth - 1] ?? null;
      state.stack.length = depth - 1;
      if (outermost) uninstrument(reader, state);
    }
    if (frame !== null) message.$unknown = frame;
    return message;
  };
  type.encode = function wrappedEncode(message: UnknownFields, writer?: protobuf.Writer): protobuf.Writer {
    const w = encode(message, writer);
    const unknown = message.$unknown;
    if (unknown !== undefined && unknown !== null) {
      checkUnknown(unknown);
      for (const field of unknown) (w as unknown as WriterInternals)._push(writeRaw, field.length, field);
    }
    return w;
  };
  type.fromObject = function wrappedFromObject(object: Record<string, unknown>): UnknownFields {
    const message = fromObject(object);
    const unknown = object['$unknown'];
    if (unknown !== undefined && unknown !== null) {
      checkUnknown(unknown);
      message.$unknown = unknown;
    }
    return message;
  };
}

function isMessageType(v: unknown): v is MessageType {
  return (
    typeof v === 'function' &&
    typeof (v as Partial<MessageType>).decode === 'function' &&
    typeof (v as Partial<MessageType>).encode === 'function'
  );
}

function wrapAll(ns: object): void {
  for (const value of Object.values(ns)) {
    if (!isMessageType(value)) continue;
    wrap(value);
    wrapAll(value); // nested types: TensorProto.Segment, TypeProto.Tensor, ...
  }
}

// onnx-proto's module is shared by everyone importing it: wrap once, even if this file loads twice.
if (!(onnx as unknown as Record<symbol, boolean>)[WRAPPED]) {
  wrapAll(onnx);
  Object.defineProperty(onnx, WRAPPED, { value: true });
}

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

/** An encoding whose size is known before the bytes are produced (`finish` may be called once). */
export interface PreparedEncoding {
  readonly byteLength: number;
  finish(): Uint8Array;
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
    throw new ShrinkError('INVALID_MODEL', `cannot encode model: ${msg}; expected onnx.ModelProto fields of the schema's types`, { cause: e });
  }
  const byteLength = writer.len;
  return {
    byteLength,
    finish(): Uint8Array {
      if (writer === null) throw new ShrinkError('INVALID_ARGUMENT', 'prepareEncode: finish() was already called');
      if (byteLength > PROTOBUF_MAX_BYTES) {
        throw new ShrinkError(
          'UNSUPPORTED_MODEL',
          `model encodes to ${byteLength} bytes, over protobuf's 2 GiB limit; save it with external data (saveModel with externalData)`,
        );
      }
      const bytes = writer.finish();
      writer = null;
      return bytes;
    },
  };
}

/** Serializes a model; throws UNSUPPORTED_MODEL past protobuf's 2 GiB limit. */
export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return prepareEncode(model).finish();
}

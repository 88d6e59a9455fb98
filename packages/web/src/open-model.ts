/**
 * A dropped .onnx (and its external data file) as the self-contained model the passes take, as
 * `loadModel` makes it under Node: every external tensor is read into raw_data, here with File.slice, so
 * the data file is never read whole. An .onnx over protobuf's 2 GiB limit cannot be one message: refused
 * in one line.
 */
import { decodeModel, ShrinkError, type onnx } from '@shrink/core';
import { externalRef, forEachTensor, isExternal } from '../../core/src/io/model-tensors.js';
import { PROTOBUF_MAX_BYTES } from '../../core/src/onnx/proto.js';

/**
 * Moves each large raw_data, within the file's own buffer, back onto an 8- (else 4-) byte boundary, over
 * its own field's tag and length bytes (decoded already, and no other view covers them). Decoded raw_data
 * are views at whatever offset the protobuf put them; an unaligned one cannot be viewed as a Float32Array,
 * so the passes' readTensor would copy every weight (1x the model of garbage per run). copyWithin allocates
 * nothing. Small tensors keep their offsets: their header may be shorter than the shift.
 */
export function alignInPlace(model: onnx.ModelProto, bytes: Uint8Array): void {
  forEachTensor(model, (tensor) => {
    const raw = tensor.rawData;
    if (!(raw instanceof Uint8Array) || raw.length < ALIGN_MIN || raw.buffer !== bytes.buffer) return;
    // The field's header: a one-byte tag (raw_data is field 9) and the length as a varint.
    let header = 1;
    for (let n = raw.length; n >= 0x80; n = Math.floor(n / 0x80)) header++;
    header++;
    const shift = raw.byteOffset % 8 <= header ? raw.byteOffset % 8 : raw.byteOffset % 4;
    if (shift === 0) return;
    const at = raw.byteOffset - shift;
    bytes.copyWithin(at - bytes.byteOffset, raw.byteOffset - bytes.byteOffset, raw.byteOffset - bytes.byteOffset + raw.length);
    tensor.rawData = new Uint8Array(raw.buffer, at, raw.length);
  });
}

/** From this size the header (tag + a 3-byte length) covers a shift of up to 3 bytes. */
const ALIGN_MIN = 1 << 14;

const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;

export interface OpenedModel {
  readonly model: onnx.ModelProto;
  /** The .onnx and its data file, as dropped. */
  readonly bytes: number;
  /** Whether tensors were read from the data file. */
  readonly external: boolean;
}

export async function openModel(file: File, data?: File): Promise<OpenedModel> {
  if (file.size > PROTOBUF_MAX_BYTES) {
    throw new ShrinkError(
      'INVALID_MODEL',
      `${file.name} is ${gb(file.size)}: one .onnx file cannot pass protobuf's 2 GiB limit; a model this large keeps its weights in an external data file: drop the .onnx together with its .onnx_data`,
    );
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const model = decodeModel(bytes, file.name);
  alignInPlace(model, bytes);
  const pending: Array<{ tensor: onnx.ITensorProto; label: string; offset: number; length: number | undefined; location: string }> = [];
  forEachTensor(model, (tensor, label) => {
    if (isExternal(tensor)) pending.push({ tensor, label, ...externalRef(tensor, label, file.name) });
  });
  if (pending.length > 0 && data === undefined) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `${file.name} keeps its weights in external data file '${pending[0]!.location}': drop or pick that file together with the .onnx`,
    );
  }
  for (const p of pending) {
    const end = p.length !== undefined ? p.offset + p.length : data!.size;
    if (end > data!.size) {
      throw new ShrinkError(
        'INVALID_MODEL',
        `${file.name}: ${p.label} reads bytes ${p.offset}-${end} of '${p.location}', but ${data!.name} has ${data!.size} bytes (a truncated or different data file)`,
      );
    }
    // Each tensor in its own buffer, aligned for typed-array views, as loadModel reads them.
    p.tensor.rawData = new Uint8Array(await data!.slice(p.offset, end).arrayBuffer());
    p.tensor.externalData = [];
    p.tensor.dataLocation = 0;
  }
  return { model, bytes: file.size + (pending.length > 0 ? data!.size : 0), external: pending.length > 0 };
}

/**
 * A dropped .onnx (and its external data file) as the self-contained model the passes take, as
 * `loadModel` makes it under Node: every external tensor is read into raw_data, here with File.slice, so
 * the data file is never read whole. An .onnx over protobuf's 2 GiB limit cannot be one message: refused
 * in one line.
 */
import { decodeModel, ShrinkError, type onnx } from '@shrink/core';
import { externalRef, forEachTensor, isExternal } from '../../core/src/io/model-tensors.js';
import { PROTOBUF_MAX_BYTES } from '../../core/src/onnx/proto.js';

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
  const model = decodeModel(new Uint8Array(await file.arrayBuffer()), file.name);
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

/**
 * saveModel for models whose tensors are not in memory: the data of named initializers comes from
 * async chunk sources (read from another file, or computed as the file is written), so a model of any
 * size is written with bounded memory. Same files, layout, atomicity and clean-up as saveModel with
 * external data: the data file is laid out as external-layout.ts does, committed through
 * writeLinkedFiles, and the old model's unused data file and killed runs' temporaries go afterwards.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { prepareEncode } from '../onnx/codec.js';
import { PROTOBUF_MAX_BYTES, onnx } from '../onnx/proto.js';
import { externalOffset } from './external-layout.js';
import { forEachTensor, isExternal } from './model-tensors.js';
import { oldDataFiles } from './old-data-files.js';
import { afterCommit, DEFAULT_THRESHOLD, defaultExternalDataName, externalDataPath, type SaveResult } from './save-model.js';
import { writeLinkedFiles, type LinkedFiles } from './write-linked-files.js';

/** The data of one initializer, produced while the data file is written. */
export interface StreamedTensor {
  /** Bytes of its data as stored (raw_data). */
  readonly byteLength: number;
  /**
   * Exactly `byteLength` bytes, in order. Each chunk is written before the next one is asked for, so a
   * source may reuse one buffer for all its chunks.
   */
  chunks(): AsyncIterable<Uint8Array>;
}

export interface StreamedSaveOptions {
  /** Data file name beside the model; default `<name>.onnx_data`. */
  location?: string;
  /** In-memory initializers with at least this many raw_data bytes go to the data file too; default 1024. */
  threshold?: number;
  force?: boolean;
  /** The files the model was made from: never overwritten unless `force`, never removed. */
  inputs?: readonly string[];
}

interface Slot {
  name: string;
  offset: number;
  length: number;
  chunks: () => AsyncIterable<Uint8Array>;
}

/**
 * Writes `model` to `file` with its data in one external data file. Main-graph initializers named in
 * `streamed` take their bytes from it (they must hold no data of their own); other main-graph
 * initializers with raw_data of `threshold` bytes or more move to the data file as well; the rest stays
 * in the .onnx. A tensor still referring to another file's data is refused, as saveModel does.
 */
export async function saveModelStreamed(
  model: onnx.IModelProto,
  file: string,
  streamed: ReadonlyMap<string, StreamedTensor>,
  opts: StreamedSaveOptions = {},
): Promise<SaveResult> {
  const abs = path.resolve(file);
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  const inits = model.graph?.initializer ?? [];
  const named = new Set(inits.map((t) => t.name ?? ''));
  for (const name of streamed.keys()) {
    if (!named.has(name))
      throw new ShrinkError('INVALID_ARGUMENT', `cannot save to ${file}: no initializer '${name}' for its streamed data`);
  }
  forEachTensor(model, (t, label) => {
    if (isExternal(t) && !streamed.has(t.name ?? '')) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `cannot save to ${file}: ${label} still refers to external data of another file; give its bytes as a streamed tensor`,
      );
    }
  });
  const dir = path.dirname(abs);
  if (!(await stat(dir).catch(() => null))?.isDirectory()) {
    throw new ShrinkError('IO', `cannot write ${abs}: folder ${dir} does not exist; create it first or choose another output path`);
  }
  const location = opts.location ?? defaultExternalDataName(abs);
  const dataPath = await externalDataPath(dir, abs, location, opts);

  const slots: Slot[] = [];
  let end = 0;
  for (const t of inits) {
    const name = t.name ?? '';
    const s = streamed.get(name);
    const raw = t.rawData;
    const length = s ? s.byteLength : raw && raw.length >= threshold && raw.length > 0 ? raw.length : undefined;
    if (length === undefined) continue;
    const offset = externalOffset(end, length);
    slots.push({ name, offset, length, chunks: s ? () => s.chunks() : () => once(raw!) });
    end = offset + length;
  }
  const bySlot = new Map(slots.map((s) => [s.name, s]));
  const modelFor = (loc: string): onnx.IModelProto => ({
    ...model,
    graph: {
      ...model.graph,
      initializer: inits.map((t) => {
        const s = bySlot.get(t.name ?? '');
        if (!s) return t;
        return {
          ...t,
          rawData: undefined,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: 'location', value: loc },
            { key: 'offset', value: String(s.offset) },
            { key: 'length', value: String(s.length) },
          ],
        };
      }),
    },
  });
  // Refused before gigabytes are written: the .onnx itself must stay within protobuf's limit.
  const encoded = prepareEncode(modelFor(location)).byteLength;
  if (encoded > PROTOBUF_MAX_BYTES) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `cannot save to ${file}: with its large initializers in external data the model still encodes to ${encoded} bytes, over protobuf's 2 GiB limit`,
    );
  }
  const defaultData = path.join(dir, defaultExternalDataName(abs));
  const old = await oldDataFiles(abs, dataPath === defaultData ? [] : [defaultData], opts.inputs);
  const written: LinkedFiles = await writeLinkedFiles(abs, [{ target: dataPath, chunks: dataChunks(slots, file) }], ([name]) =>
    prepareEncode(modelFor(name!)).chunks(),
  );
  await afterCommit(abs, [dataPath, defaultData], old, [written.files[0]!.path], opts);
  return {
    path: written.main,
    bytes: written.bytes,
    externalDataPath: written.files[0]!.path,
    externalDataBytes: written.files[0]!.bytes,
    externalDataReason: 'requested',
  };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** The data file: each slot's bytes at its offset, zeros between; a source giving other than its length is a bug, refused. */
async function* dataChunks(slots: readonly Slot[], file: string): AsyncGenerator<Uint8Array> {
  const zeros = new Uint8Array(4096);
  let pos = 0;
  for (const s of slots) {
    if (s.offset > pos) yield zeros.subarray(0, s.offset - pos);
    let got = 0;
    for await (const chunk of s.chunks()) {
      got += chunk.length;
      if (got > s.length) break;
      yield chunk;
    }
    if (got !== s.length) {
      throw new Error(`cannot save to ${file}: initializer '${s.name}' gave ${got} bytes of data, not the ${s.length} it declared`);
    }
    pos = s.offset + s.length;
  }
}

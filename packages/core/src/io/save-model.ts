import { stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { prepareEncode, type PreparedEncoding } from '../onnx/codec.js';
import { PROTOBUF_MAX_BYTES, type onnx } from '../onnx/proto.js';
import { stageChunks, writeChunksAtomic } from './atomic-write.js';
import { externalLayout } from './external-layout.js';
import { forEachTensor, isExternal } from './model-tensors.js';
import { oldDataFiles } from './old-data-files.js';
import { refuseInputs } from './refuse-inputs.js';
import { removeStaleTemps } from './remove-stale-temps.js';
import { resolveInside } from './safe-path.js';
import { syncDir } from './sync-dir.js';
import { writeLinkedFiles, type LinkedFiles } from './write-linked-files.js';

export interface ExternalDataOptions {
  /** File name beside the model; default `<name>.onnx_data` for `<name>.onnx` (transformers.js' naming). */
  location?: string;
  /** Tensors with at least this many raw_data bytes go to the file; default 1024 (onnx's size_threshold). */
  threshold?: number;
}

export interface SaveOptions {
  /** Store large initializers in an external data file. Used anyway when the model would pass 2 GiB. */
  externalData?: boolean | ExternalDataOptions;
  /** Allow overwriting a file listed in `inputs`. */
  force?: boolean;
  /** The files the model was made from (models, their external data): never overwritten unless `force`, never removed. */
  inputs?: readonly string[];
  /**
   * Encoded size above which external data is used even when not asked for; default and maximum is
   * protobuf's limit (2 GiB - 1). Lower it for runtimes with smaller limits, or to test that path.
   */
  inlineLimit?: number;
}

export interface SaveResult {
  path: string;
  /** Size of the .onnx file. */
  bytes: number;
  /**
   * The data file the .onnx references: `location` (default `<name>.onnx_data`); only if the write
   * could not give the data that name after committing it (see writeLinkedFiles), its fresh name.
   */
  externalDataPath?: string;
  externalDataBytes?: number;
  /** Why external data was written: asked for, or the inline model would exceed protobuf's 2 GiB (`inlineLimit`). */
  externalDataReason?: 'requested' | 'over-limit';
}

/** Tensors of this many raw_data bytes and more go to the data file by default (onnx's size_threshold). */
export const DEFAULT_THRESHOLD = 1024;

/** onnx's convention: `model.onnx` -> `model.onnx_data`. */
export function defaultExternalDataName(modelPath: string): string {
  const base = path.basename(modelPath);
  return `${base.endsWith('.onnx') ? base.slice(0, -'.onnx'.length) : base}.onnx_data`;
}

/**
 * Writes `model` to `file` atomically, optionally with an external data file beside it. The model
 * object is not changed: tensors moved to external data are replaced in a shallow copy.
 *
 * A kill at any point leaves the old model (with its data) or the new one, never a mix: the data is
 * committed under a fresh name first (writeLinkedFiles). After the commit, the old model's
 * `<name>.onnx_data` is removed when the new model does not use it, and so are the temporaries that
 * killed runs left for this model (a data file of another name the old model used is left: another
 * model may share it).
 */
export async function saveModel(model: onnx.IModelProto, file: string, opts: SaveOptions = {}): Promise<SaveResult> {
  return save(model, file, opts);
}

/**
 * saveModel, but the new files replace nothing until `check` has accepted them (e.g. loaded and measured
 * the model): an inline model is checked as its complete temp file beside `file`, one with external data
 * in a hidden stage folder beside it, with its data file under the name it will have. Only when `check`
 * returns are they committed, as saveModel commits them. When `check` throws, the temporaries go and
 * the old files stay byte for byte.
 */
export async function saveModelChecked<T>(
  model: onnx.IModelProto,
  file: string,
  opts: SaveOptions,
  check: (staged: SaveResult) => Promise<T>,
): Promise<{ saved: SaveResult; value: T }> {
  let value: { v: T } | undefined;
  const saved = await save(model, file, opts, async (staged) => {
    value = { v: await check(staged) };
  });
  if (!value) throw new Error('saveModelChecked: the check did not run');
  return { saved, value: value.v };
}

async function save(
  model: onnx.IModelProto,
  file: string,
  opts: SaveOptions,
  check?: (staged: SaveResult) => Promise<void>,
): Promise<SaveResult> {
  const abs = path.resolve(file);
  forEachTensor(model, (t, label) => {
    if (isExternal(t)) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `cannot save to ${file}: ${label} still refers to external data of another file; load the model with loadModel so its data is read in`,
      );
    }
  });
  const defaultData = path.join(path.dirname(abs), defaultExternalDataName(abs));
  const ext = opts.externalData;
  const extOpts: ExternalDataOptions = typeof ext === 'object' && ext !== null ? ext : {};
  let reason: SaveResult['externalDataReason'] = ext ? 'requested' : undefined;
  if (reason === undefined) {
    const prepared = prepareEncode(model);
    if (prepared.byteLength <= Math.min(opts.inlineLimit ?? PROTOBUF_MAX_BYTES, PROTOBUF_MAX_BYTES)) {
      return saveInline(abs, prepared, defaultData, opts, check);
    }
    reason = 'over-limit';
  }

  const threshold = extOpts.threshold ?? DEFAULT_THRESHOLD;
  if (!Number.isInteger(threshold) || threshold < 0) {
    throw new ShrinkError('INVALID_ARGUMENT', `externalData.threshold is ${threshold}; expected a non-negative integer number of bytes`);
  }
  const location = extOpts.location ?? defaultExternalDataName(abs);
  const dir = path.dirname(abs);
  if (!(await stat(dir).catch(() => null))?.isDirectory()) {
    throw new ShrinkError('IO', `cannot write ${abs}: folder ${dir} does not exist; create it first or choose another output path`);
  }
  const dataPath = await externalDataPath(dir, abs, location, opts);

  const layout = externalLayout(model, threshold);
  if (layout.count === 0) {
    // Nothing reached the threshold: no data file, and no external reference in the model.
    return saveInline(abs, prepareEncode(model), defaultData, opts, check);
  }
  const encodedLength = prepareEncode(layout.model(location)).byteLength;
  if (encodedLength > PROTOBUF_MAX_BYTES) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `cannot save to ${file}: even with initializers of ${threshold}+ bytes in external data the model encodes to ${encodedLength} bytes, over protobuf's 2 GiB limit`,
    );
  }
  const old = await oldDataFiles(abs, dataPath === defaultData ? [] : [defaultData], opts.inputs);
  const result = (w: LinkedFiles): SaveResult => ({
    path: w.main,
    bytes: w.bytes,
    externalDataPath: w.files[0]!.path,
    externalDataBytes: w.files[0]!.bytes,
    externalDataReason: reason,
  });
  const written = await writeLinkedFiles(
    abs,
    [{ target: dataPath, chunks: layout.data() }],
    ([name]) => prepareEncode(layout.model(name!)).chunks(),
    check && ((staged) => check(result(staged))),
  );
  await afterCommit(abs, [dataPath, defaultData], old, [written.files[0]!.path], opts);
  return result(written);
}

async function saveInline(
  abs: string,
  prepared: PreparedEncoding,
  defaultData: string,
  opts: SaveOptions,
  check?: (staged: SaveResult) => Promise<void>,
): Promise<SaveResult> {
  await refuseInputs([abs], opts);
  const old = await oldDataFiles(abs, [defaultData], opts.inputs);
  let bytes: number;
  if (check) {
    const staged = await stageChunks(abs, prepared.chunks());
    try {
      await check({ path: staged.temp, bytes: staged.bytes });
    } catch (e) {
      await staged.discard();
      throw e;
    }
    await staged.commit();
    bytes = staged.bytes;
  } else {
    bytes = await writeChunksAtomic(abs, prepared.chunks());
  }
  await afterCommit(abs, [defaultData], old, [], opts);
  return { path: abs, bytes };
}

/**
 * Once the new model is in place: removes the old model's data files it no longer uses (`old`, never
 * one in `keep`) and what killed runs left for the model and its data files. Best effort: the save
 * has succeeded, and a file left here is only disk space.
 */
/**
 * The external data file `location` names beside the model `abs` in `dir`: inside the folder, not the
 * model file itself, and not an input of the run (SaveOptions' inputs).
 */
export async function externalDataPath(dir: string, abs: string, location: string, opts: SaveOptions): Promise<string> {
  const dataPath = resolveInside(dir, location, `externalData.location '${location}'`);
  if (dataPath === abs) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `externalData.location '${location}' names the model file itself; expected another file name for the data`,
    );
  }
  await refuseInputs([abs, dataPath], opts);
  return dataPath;
}

export async function afterCommit(
  abs: string,
  dataFiles: readonly string[],
  old: readonly string[],
  keep: readonly string[],
  opts: SaveOptions,
): Promise<void> {
  if (old.length > 0) await syncDir(path.dirname(abs));
  for (const f of old) if (!keep.includes(f)) await unlink(f).catch(() => undefined);
  await removeStaleTemps([abs, ...dataFiles], { keep, inputs: opts.inputs });
}

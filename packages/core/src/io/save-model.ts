import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { prepareEncode } from '../onnx/codec.js';
import { PROTOBUF_MAX_BYTES, onnx } from '../onnx/proto.js';
import { stageChunks, writeChunksAtomic, writeChunksTogether } from './atomic-write.js';
import { fsError } from './fs-error.js';
import { forEachTensor, isExternal } from './model-tensors.js';
import { resolveInside } from './safe-path.js';

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
  /** The files the model was made from (models, their external data): never overwritten unless `force`. */
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
  externalDataPath?: string;
  externalDataBytes?: number;
  /** Why external data was written: asked for, or the inline model would exceed protobuf's 2 GiB (`inlineLimit`). */
  externalDataReason?: 'requested' | 'over-limit';
}

const DEFAULT_THRESHOLD = 1024;
// Tensors of 1 MiB and more start on a page boundary, so runtimes can memory-map them (onnxruntime's
// own writer uses the same kind of threshold); smaller ones on 64 bytes, which suits SIMD loads and keeps
// padding negligible for models with many small tensors.
const PAGE_ALIGN = 4096;
const PAGE_ALIGN_FROM = 1 << 20;
const SMALL_ALIGN = 64;

/** onnx's convention: `model.onnx` -> `model.onnx_data`. */
export function defaultExternalDataName(modelPath: string): string {
  const base = path.basename(modelPath);
  return `${base.endsWith('.onnx') ? base.slice(0, -'.onnx'.length) : base}.onnx_data`;
}

/**
 * Writes `model` to `file` atomically, optionally with an external data file beside it. The model
 * object is not changed: tensors moved to external data are replaced in a shallow copy.
 */
export async function saveModel(model: onnx.IModelProto, file: string, opts: SaveOptions = {}): Promise<SaveResult> {
  const abs = path.resolve(file);
  forEachTensor(model, (t, label) => {
    if (isExternal(t)) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `cannot save to ${file}: ${label} still refers to external data of another file; load the model with loadModel so its data is read in`,
      );
    }
  });
  const ext = opts.externalData;
  const extOpts: ExternalDataOptions = typeof ext === 'object' && ext !== null ? ext : {};
  let reason: SaveResult['externalDataReason'] = ext ? 'requested' : undefined;
  if (reason === undefined) {
    const prepared = prepareEncode(model);
    if (prepared.byteLength <= Math.min(opts.inlineLimit ?? PROTOBUF_MAX_BYTES, PROTOBUF_MAX_BYTES)) {
      await refuseInputs([abs], opts);
      return { path: abs, bytes: await writeChunksAtomic(abs, prepared.chunks()) };
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
  const dataPath = resolveInside(dir, location, `externalData.location '${location}'`);
  await refuseInputs([abs, dataPath], opts);

  const placed: Placed[] = [];
  let end = 0;
  const out = externalize(model, threshold, (t) => {
    const raw = t.rawData!;
    const offset = alignUp(end, raw.length >= PAGE_ALIGN_FROM ? PAGE_ALIGN : SMALL_ALIGN);
    placed.push({ raw, offset });
    end = offset + raw.length;
    return {
      ...t,
      rawData: undefined,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.length) },
      ],
    };
  });
  const prepared = prepareEncode(out);
  if (prepared.byteLength > PROTOBUF_MAX_BYTES) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `cannot save to ${file}: even with initializers of ${threshold}+ bytes in external data the model encodes to ${prepared.byteLength} bytes, over protobuf's 2 GiB limit`,
    );
  }
  if (placed.length === 0) {
    // Nothing reached the threshold: no data file, and no external reference in the model.
    return { path: abs, bytes: await writeChunksAtomic(abs, prepared.chunks()) };
  }
  // A location in a subfolder (inside the model's folder, checked above) gets that folder made.
  await mkdir(path.dirname(dataPath), { recursive: true }).catch((e: unknown) => {
    throw fsError(e, 'create folder for', dataPath);
  });
  // Both files are complete on disk before either replaces an old one: a run killed while writing
  // leaves the old model with its old data, not an old .onnx reading a new data file's offsets.
  const [externalDataBytes, bytes] = (await writeChunksTogether([
    { target: dataPath, chunks: layout(placed) },
    { target: abs, chunks: prepared.chunks() },
  ])) as [number, number];
  return { path: abs, bytes, externalDataPath: dataPath, externalDataBytes, externalDataReason: reason };
}

/**
 * saveModel, but the new files replace nothing until `check` has accepted them (e.g. loaded and measured
 * the model): an inline model is checked as its complete temp file beside `file`, one with external data
 * in a hidden staging folder beside it (its .onnx names its data file, so the pair moves together). Only
 * when `check` returns are they renamed into place — external data first, as saveModel commits it. When
 * `check` throws, the temporaries go and the old files stay byte for byte.
 */
export async function saveModelChecked<T>(
  model: onnx.IModelProto,
  file: string,
  opts: SaveOptions,
  check: (staged: SaveResult) => Promise<T>,
): Promise<{ saved: SaveResult; value: T }> {
  const abs = path.resolve(file);
  const prepared = opts.externalData ? undefined : prepareEncode(model);
  if (prepared && prepared.byteLength <= Math.min(opts.inlineLimit ?? PROTOBUF_MAX_BYTES, PROTOBUF_MAX_BYTES)) {
    await refuseInputs([abs], opts);
    const staged = await stageChunks(abs, prepared.chunks());
    let value: T;
    try {
      value = await check({ path: staged.temp, bytes: staged.bytes });
    } catch (e) {
      await staged.discard();
      throw e;
    }
    await staged.commit();
    return { saved: { path: abs, bytes: staged.bytes }, value };
  }
  const dir = path.dirname(abs);
  const stage = path.join(dir, `.${path.basename(abs)}.${process.pid}.${randomBytes(6).toString('hex')}.stage`);
  await mkdir(stage).catch((e: unknown) => {
    throw fsError(e, 'create folder', stage);
  });
  try {
    const staged = await saveModel(model, path.join(stage, path.basename(abs)), { ...opts, force: true });
    const dataPath = staged.externalDataPath === undefined ? undefined : path.join(dir, path.relative(stage, staged.externalDataPath));
    // saveModel checked the staged paths, which are never inputs: the final ones are checked here.
    await refuseInputs(dataPath === undefined ? [abs] : [abs, dataPath], opts);
    const value = await check(staged);
    try {
      if (staged.externalDataPath !== undefined && dataPath !== undefined) {
        await mkdir(path.dirname(dataPath), { recursive: true });
        await rename(staged.externalDataPath, dataPath);
      }
      await rename(staged.path, abs);
    } catch (e) {
      throw fsError(e, 'write', abs);
    }
    return { saved: { ...staged, path: abs, ...(dataPath !== undefined ? { externalDataPath: dataPath } : {}) }, value };
  } finally {
    await rm(stage, { recursive: true, force: true }).catch(() => undefined);
  }
}

interface Placed {
  raw: Uint8Array;
  offset: number;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function* layout(placed: readonly Placed[]): Generator<Uint8Array> {
  const zeros = new Uint8Array(PAGE_ALIGN);
  let pos = 0;
  for (const { raw, offset } of placed) {
    if (offset > pos) yield zeros.subarray(0, offset - pos);
    yield raw;
    pos = offset + raw.length;
  }
}

/**
 * Copies the model along the paths to initializers with raw_data of at least `threshold` bytes
 * (in the main graph and subgraphs, as onnx's convert_model_to_external_data does by default),
 * replacing each with `replace(t)`; everything else is shared with the input.
 */
function externalize(model: onnx.IModelProto, threshold: number, replace: (t: onnx.ITensorProto) => onnx.ITensorProto): onnx.IModelProto {
  const graph = (g: onnx.IGraphProto): onnx.IGraphProto => ({
    ...g,
    initializer: (g.initializer ?? []).map((t) => ((t.rawData?.length ?? 0) >= threshold && (t.rawData?.length ?? 0) > 0 ? replace(t) : t)),
    node: (g.node ?? []).map((n) =>
      (n.attribute ?? []).some((a) => a.g || (a.graphs?.length ?? 0) > 0)
        ? { ...n, attribute: (n.attribute ?? []).map((a) => ({ ...a, g: a.g ? graph(a.g) : a.g, graphs: a.graphs?.map(graph) })) }
        : n,
    ),
  });
  return { ...model, graph: model.graph ? graph(model.graph) : model.graph };
}

/** Throws IO if a target is one of the inputs (same path, or same file through a link), unless `force`. */
async function refuseInputs(targets: readonly string[], opts: SaveOptions): Promise<void> {
  if (opts.force || !opts.inputs?.length) return;
  for (const target of targets) {
    const t = await stat(target).catch(() => null);
    for (const input of opts.inputs) {
      const i = await stat(input).catch(() => null);
      const same = t && i ? t.dev === i.dev && t.ino === i.ino : path.resolve(input) === target;
      if (same) {
        throw new ShrinkError('IO', `refusing to overwrite input file ${input} with ${target}; choose another output path or use --force`);
      }
    }
  }
}

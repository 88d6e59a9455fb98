/**
 * Feeds files: a model's inputs by name, as people have them from Python. A JSON object of nested
 * arrays (or an array of such objects, one per sample), a NumPy .npz (np.savez), an .npy for one input,
 * or a folder of such files, one sample set each. Inputs a file leaves out are made the synthetic way
 * (an attention mask of ones, a state of zeros) and the feed set's name says which.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { parseNpy, parseNpz } from '../data/npy.js';
import type { onnx } from '../onnx/proto.js';
import { fromNested, toInputTensor, type RawArray } from './input-tensor.js';
import type { FeedTensor, Feeds, Session } from './session.js';
import { syntheticFeedSet, type FeedSet } from './synthetic-feeds.js';

const EXTS = ['.json', '.npz', '.npy'];

/** What a feeds file holds before it meets the model: one record of raw arrays per sample. */
type RawSample = Map<string, RawArray>;

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (e) {
    throw new ShrinkError('INVALID_DATA', `${file}: not valid JSON (${(e as Error).message}); expected {"<input name>": [[...]], ...}`);
  }
}

function jsonSamples(value: unknown, file: string): RawSample[] {
  const records = Array.isArray(value) ? value : [value];
  return records.map((r, i) => {
    const where = Array.isArray(value) ? `${file}[${i}]` : file;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) {
      throw new ShrinkError('INVALID_DATA', `${where}: expected an object {"<input name>": nested array or number, ...}`);
    }
    return new Map(Object.entries(r as Record<string, unknown>).map(([k, v]) => [k, fromNested(v, `${where}: '${k}'`)]));
  });
}

async function fileSamples(file: string, inputNames: readonly string[]): Promise<RawSample[]> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') return jsonSamples(await readJson(file), file);
  const bytes = new Uint8Array(await readFile(file));
  if (ext === '.npz') return [parseNpz(bytes, file)];
  const stem = path.basename(file, ext);
  const name = inputNames.includes(stem) ? stem : inputNames.length === 1 ? inputNames[0]! : undefined;
  if (name === undefined) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${file}: an .npy holds one array, and the model has ${inputNames.length} inputs (${inputNames.join(', ')}); name the file after its input (input_ids.npy) or use an .npz (numpy.savez)`,
    );
  }
  return [new Map([[name, parseNpy(bytes, file)]])];
}

/** The files a feeds spec names: the file itself, or a folder's .json/.npz/.npy files sorted by name. */
async function filesOf(spec: string): Promise<string[]> {
  const st = await stat(spec).catch(() => undefined);
  if (!st)
    throw new ShrinkError('NOT_FOUND', `${spec}: no such file or folder; expected a feeds file (.json, .npz, .npy) or a folder of them`);
  if (!st.isDirectory()) return [spec];
  const files = (await readdir(spec))
    .filter((f) => EXTS.includes(path.extname(f).toLowerCase()))
    .sort()
    .map((f) => path.join(spec, f));
  if (files.length === 0) throw new ShrinkError('INVALID_DATA', `${spec}: the folder holds no .json, .npz or .npy feeds files`);
  return files;
}

/**
 * Whether `spec` is a feeds file (or folder) for a model with these inputs, rather than a dataset:
 * NumPy files are; a JSON file is unless it is a {"x": ..., "y": ...} dataset, or {"x": ...} for a model
 * without an input named x.
 */
export async function isFeedsSpec(spec: string, inputNames: readonly string[]): Promise<boolean> {
  const st = await stat(spec).catch(() => undefined);
  if (!st) return false;
  const files = st.isDirectory() ? await filesOf(spec).catch(() => []) : [spec];
  for (const f of files) {
    const ext = path.extname(f).toLowerCase();
    if (ext === '.npz' || ext === '.npy') return true;
    if (ext !== '.json') continue;
    const v = await readJson(f).catch(() => undefined);
    const first: unknown = Array.isArray(v) ? v[0] : v;
    if (first === null || typeof first !== 'object' || Array.isArray(first)) continue;
    // A dataset is {"x": ..., "y": ...} (labels in a "y" that is no model input); {"x": ...} alone is feeds
    // only for a model whose input is named x. Anything else keyed by name is feeds, checked against the model later.
    const keys = Object.keys(first);
    const labelled = keys.includes('x') && keys.includes('y') && !inputNames.includes('y');
    if (keys.length > 0 && !labelled && (!keys.includes('x') || inputNames.includes('x'))) return true;
  }
  return false;
}

/** Converts raw samples for `session`; inputs a sample leaves out are filled the synthetic way. */
export function feedsFromRaw(session: Session, model: onnx.IModelProto, raw: readonly RawSample[], source: string): Feeds[] {
  return raw.map((sample, k) => {
    for (const name of sample.keys()) {
      if (!session.inputNames.includes(name)) {
        throw new ShrinkError(
          'INVALID_DATA',
          `${source}: '${name}' is not an input of the model; its inputs: ${session.inputNames.join(', ')}`,
        );
      }
    }
    const given: Record<string, FeedTensor> = {};
    for (const meta of session.inputs) {
      const v = sample.get(meta.name);
      if (v) given[meta.name] = toInputTensor(meta, v, `${source}: '${meta.name}'`);
    }
    return syntheticFeedSet(session, model, { count: 1, seed: k, given }).samples[0]!;
  });
}

/** The feed set a feeds file or folder holds, shaped and typed for `session`. */
export async function readFeedSet(spec: string, session: Session, model: onnx.IModelProto): Promise<FeedSet> {
  const files = await filesOf(spec);
  const samples: Feeds[] = [];
  const missing = new Set<string>();
  for (const f of files) {
    const raw = await fileSamples(f, session.inputNames);
    for (const r of raw) for (const n of session.inputNames) if (!r.has(n)) missing.add(n);
    samples.push(...feedsFromRaw(session, model, raw, f));
  }
  const fill = missing.size > 0 ? `; not given, made up: ${[...missing].join(', ')}` : '';
  return { name: `${samples.length} sample${samples.length === 1 ? '' : 's'} of ${spec}${fill}`, samples, synthetic: false };
}

/**
 * `--input NAME=VALUE|FILE` values: a number, a JSON array, or a .npy/.json file holding the array.
 * Returned raw; `toInputTensor` shapes them once the model's inputs are known.
 */
export async function readInputValue(spec: string): Promise<{ name: string; value: RawArray }> {
  const eq = spec.indexOf('=');
  if (eq <= 0) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `input "${spec}": expected NAME=VALUE (a number or a JSON array) or NAME=FILE (.npy or .json)`,
      {
        option: 'input',
      },
    );
  }
  const name = spec.slice(0, eq);
  const rest = spec.slice(eq + 1).trim();
  if (/^-?[\d.]/.test(rest) || rest.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(rest);
    } catch {
      throw new ShrinkError('INVALID_ARGUMENT', `input "${spec}": ${rest} is not a number or a JSON array`, { option: 'input' });
    }
    return { name, value: fromNested(v, `--input ${name}`) };
  }
  const ext = path.extname(rest).toLowerCase();
  if (ext === '.npy') return { name, value: parseNpy(new Uint8Array(await readFile(rest).catch(() => notFound(rest))), rest) };
  if (ext === '.json') return { name, value: fromNested(await readJson(rest), rest) };
  throw new ShrinkError('INVALID_ARGUMENT', `input "${spec}": ${rest} is not a number, a JSON array, or a .npy/.json file`, {
    option: 'input',
  });
}

function notFound(file: string): never {
  throw new ShrinkError('NOT_FOUND', `${file}: no such file; expected a .npy or .json file for --input`, { option: 'input' });
}

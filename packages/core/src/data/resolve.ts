import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import type { Dataset, Split, Task } from './dataset.js';
import { concatDatasets, takeFirst } from './dataset-ops.js';
import { loadCsv } from './csv.js';
import { loadDigits } from './digits.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { loadIdxPart, type IdxPart } from './idx.js';
import { loadJsonDataset } from './json.js';
import { splitDataset } from './split.js';
import { makeSeedData } from './synthetic.js';

/** What every `--data` flag accepts; shown in errors and help text. */
export const DATA_SPEC_HELP =
  'a preset (digits, fashion-mnist, seed or synthetic; add :N for the first N samples, e.g. digits:200), ' +
  'a folder of MNIST-style IDX files, a .csv or .csv.gz file, or a .json file {"x": [...], "y": [...]}';

export const DATA_PRESETS = ['digits', 'fashion-mnist', 'seed', 'synthetic'] as const;

export type DataPart = 'train' | 'test' | 'all';

export interface ResolveDataOptions {
  /** Base for relative paths. Default process.cwd(). */
  cwd?: string;
  /**
   * Use only the first N samples of each source file (digits: the first N rows, then split;
   * Fashion-MNIST and IDX folders: the first N of the train file and of the test file; seed: N
   * samples made). A preset's `:N` suffix means the same; when both are given the smaller wins.
   */
  limit?: number;
  /** For sources without their own test set (digits, seed, CSV, JSON). Default 0.2. */
  testFraction?: number;
  /** Split seed for those sources. Default 0. Stratified for classification. */
  seed?: number;
  /** CSV/JSON: override the inferred task. */
  task?: Task;
  /** CSV: label column name or index (default the last column). */
  label?: string | number;
  /** Environment used to find Fashion-MNIST (SHRINK_FASHION_MNIST). Default process.env. */
  env?: Record<string, string | undefined>;
}

type Source =
  | { kind: 'split'; name: string; load: (limit: number | undefined) => Promise<Dataset> }
  | { kind: 'parts'; name: string; load: (part: IdxPart, limit: number | undefined) => Promise<Dataset> };

const PRESET_RE = /^([a-z-]+)(?::(\d+))?$/;

function minLimit(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

async function statOrUndefined(p: string) {
  try {
    return await stat(p);
  } catch {
    return undefined;
  }
}

function invalidSpec(spec: string, why: string): ShrinkError {
  return new ShrinkError('INVALID_ARGUMENT', `data "${spec}" ${why}; expected ${DATA_SPEC_HELP}`);
}

async function sourceOf(spec: string, opts: ResolveDataOptions): Promise<{ source: Source; limit: number | undefined }> {
  if (spec.trim() === '') throw invalidSpec(spec, 'is empty');
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit > 0)) {
    throw new ShrinkError('INVALID_ARGUMENT', `data limit ${opts.limit} must be a positive integer`);
  }
  const m = PRESET_RE.exec(spec);
  if (m && (DATA_PRESETS as readonly string[]).includes(m[1] as string)) {
    const n = m[2] === undefined ? undefined : Number(m[2]);
    if (n === 0) throw invalidSpec(spec, 'asks for 0 samples');
    const limit = minLimit(n, opts.limit);
    switch (m[1]) {
      case 'digits':
        return { source: { kind: 'split', name: 'digits', load: async (l) => takeFirst(await loadDigits(), l) }, limit };
      case 'fashion-mnist':
        return {
          source: {
            kind: 'parts',
            name: 'fashion-mnist',
            load: (part, l) =>
              loadFashionMnist(part, {
                ...(l === undefined ? {} : { limit: l }),
                ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
                ...(opts.env === undefined ? {} : { env: opts.env }),
              }),
          },
          limit,
        };
      default:
        return {
          source: { kind: 'split', name: 'seed', load: async (l) => makeSeedData(l === undefined ? {} : { n: l }) },
          limit,
        };
    }
  }
  const file = path.resolve(opts.cwd ?? process.cwd(), spec);
  const st = await statOrUndefined(file);
  const lower = file.toLowerCase();
  const limit = opts.limit;
  if (st?.isDirectory()) {
    return {
      source: { kind: 'parts', name: file, load: (part, l) => loadIdxPart(file, part, l === undefined ? {} : { limit: l }) },
      limit,
    };
  }
  const typed = {
    ...(opts.task === undefined ? {} : { task: opts.task }),
  };
  if (/\.csv(\.gz)?$/.test(lower)) {
    const csvOpts = { ...typed, ...(opts.label === undefined ? {} : { label: opts.label }) };
    return { source: { kind: 'split', name: file, load: async (l) => takeFirst(await loadCsv(file, csvOpts), l) }, limit };
  }
  if (/\.json(\.gz)?$/.test(lower)) {
    return { source: { kind: 'split', name: file, load: async (l) => takeFirst(await loadJsonDataset(file, typed), l) }, limit };
  }
  if (st) throw invalidSpec(spec, `is a file of unknown type (${file})`);
  throw invalidSpec(spec, 'is neither a preset nor an existing path');
}

function splitOpts(opts: ResolveDataOptions) {
  return {
    ...(opts.testFraction === undefined ? {} : { testFraction: opts.testFraction }),
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
  };
}

/** Train and test parts of a `--data` spec (see DATA_SPEC_HELP and ResolveDataOptions). */
export async function resolveSplit(spec: string, opts: ResolveDataOptions = {}): Promise<Split> {
  const { source, limit } = await sourceOf(spec, opts);
  if (source.kind === 'parts') {
    const [train, test] = await Promise.all([source.load('train', limit), source.load('test', limit)]);
    return { train, test };
  }
  return splitDataset(await source.load(limit), splitOpts(opts));
}

/**
 * One part of a `--data` spec: 'test' (the default; what accuracy is measured on), 'train' (e.g. for
 * calibration), or 'all' (every sample: train then test for pre-split sources, else the whole file).
 * Only the files the part needs are read.
 */
export async function resolveData(spec: string, opts: ResolveDataOptions & { split?: DataPart } = {}): Promise<Dataset> {
  const part = opts.split ?? 'test';
  const { source, limit } = await sourceOf(spec, opts);
  if (source.kind === 'parts') {
    if (part !== 'all') return source.load(part, limit);
    const [train, test] = await Promise.all([source.load('train', limit), source.load('test', limit)]);
    return concatDatasets(train, test, source.name);
  }
  const all = await source.load(limit);
  if (part === 'all') return all;
  return splitDataset(all, splitOpts(opts))[part];
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShrinkError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { findIdxFiles, loadIdxPart, type IdxPart } from './idx.js';

/** Debian's dataset-fashion-mnist package installs the four gzipped IDX files here. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_ENV = 'SHRINK_FASHION_MNIST';

export interface FashionMnistLookup {
  /** Overrides process.env (for the SHRINK_FASHION_MNIST variable). */
  env?: Record<string, string | undefined>;
  /** Default process.cwd(). */
  cwd?: string;
  /** Folders to search instead of fashionMnistCandidates(). */
  places?: readonly string[];
}

/** The folder holding pnpm-workspace.yaml above this module, i.e. the Shrink checkout. */
export function findRepoRoot(from = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Places searched for Fashion-MNIST, in order. */
export function fashionMnistCandidates(opts: FashionMnistLookup = {}): string[] {
  const env = opts.env ?? process.env;
  const out: string[] = [];
  const fromEnv = env[FASHION_MNIST_ENV];
  if (fromEnv) {
    const dir = path.resolve(opts.cwd ?? process.cwd(), fromEnv);
    // Asked for by name: falling back to another copy silently would measure the wrong data.
    if (!existsSync(dir))
      throw new ShrinkError(
        'NOT_FOUND',
        `${FASHION_MNIST_ENV}=${fromEnv}: no such folder; point it at a folder with the four *-ubyte.gz files or unset it`,
      );
    out.push(dir);
  }
  out.push(DEBIAN_FASHION_MNIST_DIR);
  const root = findRepoRoot();
  if (root) out.push(path.join(root, '..', 'shared', 'data', 'fashion-mnist'));
  out.push(path.resolve(opts.cwd ?? process.cwd(), '..', 'shared', 'data', 'fashion-mnist'));
  return [...new Set(out)];
}

/** The first candidate folder with the needed IDX files, or NOT_FOUND listing where it looked. */
export async function findFashionMnist(parts: readonly IdxPart[], opts: FashionMnistLookup = {}): Promise<string> {
  const looked = opts.places ? [...opts.places] : fashionMnistCandidates(opts);
  for (const dir of looked) {
    if (!existsSync(dir)) continue;
    const files = await findIdxFiles(dir);
    if (parts.every((p) => files[p])) return dir;
  }
  throw new ShrinkError(
    'NOT_FOUND',
    `Fashion-MNIST (${parts.join(' and ')} IDX files) not found; looked in ${looked.join(', ')}. ` +
      `Install it with \`apt-get install dataset-fashion-mnist\` or set ${FASHION_MNIST_ENV} to a folder with the four *-ubyte.gz files`,
  );
}

export interface FashionMnistOptions extends FashionMnistLookup {
  /** Read at most this many samples from each file. */
  limit?: number;
}

/** One part of Fashion-MNIST: samples [28, 28, 1] in [0, 1], 10 classes. */
export async function loadFashionMnist(part: IdxPart, opts: FashionMnistOptions = {}): Promise<Dataset> {
  const dir = await findFashionMnist([part], opts);
  return loadIdxPart(dir, part, {
    name: 'fashion-mnist',
    numClasses: 10,
    ...(opts.limit === undefined ? {} : { limit: opts.limit }),
  });
}

import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '@shrink/core';
import { fsError } from '@shrink/core/io';

/** `-o` as an absolute path; an empty value would silently mean the current folder. */
export function outputPath(arg: string | undefined, flag = '-o'): string {
  if (arg === undefined || arg.trim() === '') throw new ShrinkError('INVALID_ARGUMENT', `${flag}: needs a path, got an empty value`);
  return path.resolve(arg);
}

/** Creates a folder (and parents) or says in one line why it cannot (a file in the way, no permission). */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    const errno = (e as { code?: string }).code;
    if (errno === 'EEXIST' || errno === 'ENOTDIR') {
      throw new ShrinkError('IO', `cannot create folder ${dir}: a file is in the way; choose another output folder`);
    }
    throw fsError(e, 'create folder', dir);
  }
}

/** Outputs never replace an existing file silently: a rerun must not lose yesterday's model. */
export async function refuseExisting(target: string, force: boolean): Promise<void> {
  const st = await stat(target).catch(() => undefined);
  if (st && !force) throw new ShrinkError('IO', `${target} exists; choose another -o or pass --force to replace it`);
}

/**
 * Runs the steps that follow writing an output (measuring it). When they fail — e.g. onnxruntime rejects
 * the model — the files in `written` are removed before the error goes on, so exit 2 leaves no model
 * that failed behind. (quantize and prune stage theirs instead: core's saveModelChecked.)
 */
export async function removeOnFailure<T>(written: readonly string[], steps: () => Promise<T>): Promise<T> {
  try {
    return await steps();
  } catch (e) {
    for (const f of written) await rm(f, { force: true }).catch(() => undefined);
    throw e;
  }
}

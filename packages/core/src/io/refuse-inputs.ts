import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';

/** Whether `file` is one of `inputs`: the same path, or the same file through a hard or symbolic link. */
export async function isInput(file: string, inputs: readonly string[] | undefined): Promise<string | undefined> {
  if (!inputs?.length) return undefined;
  const abs = path.resolve(file);
  const t = await stat(abs).catch(() => null);
  for (const input of inputs) {
    const i = await stat(input).catch(() => null);
    if (t && i ? t.dev === i.dev && t.ino === i.ino : path.resolve(input) === abs) return input;
  }
  return undefined;
}

/** Throws IO if a target is one of the inputs, unless `force`. */
export async function refuseInputs(targets: readonly string[], opts: { force?: boolean; inputs?: readonly string[] }): Promise<void> {
  if (opts.force) return;
  for (const target of targets) {
    const input = await isInput(target, opts.inputs);
    if (input !== undefined) {
      // The CLI's pipeline runner rewrites this advice (it has no such flag): keep the ending as it is.
      throw new ShrinkError('IO', `refusing to overwrite input file ${input} with ${target}; choose another output path`, {
        option: 'force',
      });
    }
  }
}

/**
 * Every pass Shrink runs, in the order a search applies them: train a smaller model first, remove
 * weights next, then store the rest in fewer bits. Commands, `shrink run`, `shrink search` (and its
 * workers) and the demo all go through this list: adding a pass is one line here.
 */
import { ShrinkError, type Pass } from '@shrink/core';
import { cleanupPass } from '@shrink/cleanup/pass';
import { distillPass } from '@shrink/distill/pass';
import { prunePass } from '@shrink/prune/pass';
import { quantizePass } from '@shrink/quantize/pass';

export const PASSES: readonly Pass[] = [cleanupPass, distillPass, prunePass, quantizePass];

export const PASS_KINDS: readonly string[] = PASSES.map((p) => p.kind);

export function passOf(kind: string): Pass {
  const p = PASSES.find((x) => x.kind === kind);
  if (!p) throw new ShrinkError('INVALID_ARGUMENT', `no pass '${kind}'; passes: ${PASS_KINDS.join(', ')}`);
  return p;
}

// Gradual pruning fine-tunes in TensorFlow.js on a dataset: the CLI's. The page prunes one-shot.
import { ShrinkError } from '@shrink/core';

const needsCli = (): never => {
  throw new ShrinkError('INVALID_ARGUMENT', 'gradual pruning trains on a dataset: use shrink prune --schedule', { option: 'schedule' });
};
export const pruneOnnxGradually = needsCli;
export const overallSparsity = needsCli;
export const fineTunePruned = needsCli;

// `@shrink/core/tfjs` for the browser: fine-tuning (prune's finetune/schedule) trains on a dataset, which the page has none of.
import { ShrinkError } from '@shrink/core';

const needsCli = (): never => {
  throw new ShrinkError('INVALID_ARGUMENT', 'fine-tuning trains on a dataset: use shrink prune --finetune', { option: 'finetune' });
};
export const initTf = needsCli;
export const importFromOnnx = needsCli;
export const exportToOnnx = needsCli;

import { z } from 'zod';
import { ShrinkError } from '../errors.js';
import type { PassAvailability } from './pass.js';

/**
 * The option of the accuracy fallback, for the schema of any pass that can leave named nodes alone
 * (an `exclude` option) and says which nodes it changed: the runner (runPass) does the rest.
 */
export const accuracyFallbackShape = {
  maxAccuracyDrop: z
    .number()
    .min(0)
    .lt(1)
    .optional()
    .describe(
      'Leave the layers that hurt most as they were until the accuracy drop on the evaluation data is within this (0.01 = 1 point)',
    ),
  minCosine: z
    .number()
    .gt(0)
    .lte(1)
    .optional()
    .describe(
      "Leave the layers that hurt most as they were until every output's cosine similarity to the original model, measured in the target's runtime, is at least this; default: the target's floor (0.99 on wasm and webgpu), none elsewhere",
    ),
};

/** The fallback measures accuracy: it needs evaluation data. */
export function checkAccuracyFallback(o: { maxAccuracyDrop?: number | undefined }, available: Pick<PassAvailability, 'eval'>): void {
  if (o.maxAccuracyDrop !== undefined && !available.eval) {
    throw new ShrinkError('INVALID_ARGUMENT', 'the accuracy fallback measures accuracy on the evaluation data, and none is given', {
      option: 'maxAccuracyDrop',
      missing: 'eval',
    });
  }
}

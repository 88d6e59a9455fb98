/**
 * Code types the static (QDQ) pass stores activations and weights as, and what each needs of the model.
 * The pass takes its types as a parameter (StaticTypes): int16 or int4 codes are one more entry here
 * (and their range in math/params.ts), not edits through the placing code.
 */
import type { WeightFormat } from '../weight-format.js';

export const QDQ_CODE_TYPES = {
  uint8: { minOpset: 10 },
  int8: { minOpset: 10 },
} as const satisfies Record<string, { readonly minOpset: number }>;

export type QdqCodeType = keyof typeof QDQ_CODE_TYPES;

/** What one static run stores: activations asymmetric from calibrated ranges, weights as `weight` says. */
export interface StaticTypes {
  readonly activation: QdqCodeType;
  readonly weight: WeightFormat;
}

/** The opset QuantizeLinear / DequantizeLinear need for these types. */
export function staticMinOpset(types: StaticTypes): number {
  return Math.max(QDQ_CODE_TYPES[types.activation].minOpset, QDQ_CODE_TYPES[types.weight.type].minOpset);
}

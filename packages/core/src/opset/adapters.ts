import { ATTR_TO_INPUT_ADAPTERS } from './attr-to-input.js';
import { AXES_ADAPTERS } from './axes.js';
import { BROADCAST_ADAPTERS, PRELU_ADAPTER } from './broadcast.js';
import { LEGACY_ATTR_ADAPTERS } from './legacy-attrs.js';
import { RESIZE_ADAPTERS } from './resize.js';
import { SOFTMAX_ADAPTERS } from './softmax.js';
import type { OpsetAdapter, OpsetDirection } from './types.js';

/** Every op rule, one file per op family. */
export const OPSET_ADAPTERS: readonly OpsetAdapter[] = [
  ...LEGACY_ATTR_ADAPTERS,
  ...BROADCAST_ADAPTERS,
  PRELU_ADAPTER,
  ...ATTR_TO_INPUT_ADAPTERS,
  ...AXES_ADAPTERS,
  ...RESIZE_ADAPTERS,
  ...SOFTMAX_ADAPTERS,
];

const key = (direction: OpsetDirection, op: string, version: number): string => `${direction}:${op}:${version}`;

const BY_KEY = new Map<string, OpsetAdapter>();
for (const a of OPSET_ADAPTERS) {
  const k = key(a.direction, a.op, a.version);
  if (BY_KEY.has(k)) throw new Error(`two opset adapters for ${k}`);
  BY_KEY.set(k, a);
}

export function findAdapter(direction: OpsetDirection, op: string, version: number): OpsetAdapter | undefined {
  return BY_KEY.get(key(direction, op, version));
}

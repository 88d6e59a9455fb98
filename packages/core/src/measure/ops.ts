import type { onnx } from '../onnx/proto.js';

/** Op type -> node count of the main graph; ops outside the default domain are keyed `domain:Op`. */
export function countOps(model: onnx.IModelProto): Record<string, number> {
  const ops: Record<string, number> = {};
  for (const n of model.graph?.node ?? []) {
    const domain = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}:` : '';
    const key = `${domain}${n.opType ?? '?'}`;
    ops[key] = (ops[key] ?? 0) + 1;
  }
  return ops;
}

import { attrInt, attrString, findAttr } from '../onnx/graph.js';
import type { onnx } from '../onnx/proto.js';
import type { DType } from '../onnx/tensor.js';

/**
 * Most schema changes onnx calls compatible on the way up only added something: a type (bfloat16,
 * int8, float8), an optional attribute or input. Going down they are safe when the node uses none of
 * it. These are the additions a node can use; types are checked for every such step.
 */
const ADDED: Record<string, (node: onnx.INodeProto) => string | undefined> = {
  'ArgMax:12': (n) => (attrInt(n, 'select_last_index', 0) !== 0 ? 'select_last_index' : undefined),
  'ArgMin:12': (n) => (attrInt(n, 'select_last_index', 0) !== 0 ? 'select_last_index' : undefined),
  'AveragePool:10': (n) => (attrInt(n, 'ceil_mode', 0) !== 0 ? 'ceil_mode' : undefined),
  'AveragePool:19': (n) => (findAttr(n, 'dilations') ? 'dilations' : undefined),
  'MaxPool:8': (n) =>
    attrInt(n, 'storage_order', 0) !== 0 || (n.output ?? []).filter(Boolean).length > 1 ? 'Indices output / storage_order' : undefined,
  'MaxPool:10': (n) => (attrInt(n, 'ceil_mode', 0) !== 0 || findAttr(n, 'dilations') ? 'ceil_mode/dilations' : undefined),
  'Pad:18': (n) => ((n.input ?? [])[3] ? 'axes input' : undefined),
  'Pad:19': (n) => (attrString(n, 'mode', 'constant') === 'wrap' ? "mode 'wrap'" : undefined),
  'Resize:18': (n) =>
    findAttr(n, 'antialias') || findAttr(n, 'axes') || findAttr(n, 'keep_aspect_ratio_policy')
      ? 'antialias/axes/keep_aspect_ratio_policy'
      : undefined,
  'Resize:19': (n) => (attrString(n, 'coordinate_transformation_mode', '') === 'half_pixel_symmetric' ? 'half_pixel_symmetric' : undefined),
  'Resize:13': (n) => (attrString(n, 'mode', '') === 'cubic' || (n.input ?? [])[1] === '' ? 'optional roi' : undefined),
  'Reshape:14': (n) => (attrInt(n, 'allowzero', 0) !== 0 ? 'allowzero' : undefined),
  'Gemm:11': (n) => ((n.input ?? []).filter(Boolean).length < 3 ? 'C left out' : undefined),
  'Clip:12': () => undefined,
};

/** Element types added to many schemas late (bfloat16 at 13, float8 at 19, 4-bit at 21). */
const LATE_TYPES = new Set<DType>(['bfloat16']);

/** Why a node cannot step down past `version` as it is, or undefined when it uses nothing added there. */
export function downgradeBlock(node: onnx.INodeProto, version: number, dtype: DType | undefined): string | undefined {
  if (dtype && LATE_TYPES.has(dtype)) return `it computes in ${dtype}`;
  const what = ADDED[`${node.opType ?? ''}:${version}`]?.(node);
  return what ? `it uses ${what}, added at opset ${version}` : undefined;
}

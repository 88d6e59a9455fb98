/**
 * Dims of values computed at run time, when they follow from fixed dims: a node of an op listed here
 * whose inputs' dims are fixed (constants, graph inputs declared with every dim a number, or outputs
 * of such nodes) has the dims core's shape rule gives, so a Shape of its output can fold (exporters'
 * Shape -> Gather/Slice -> Concat -> Reshape chains, once the model's input dims are fixed). Declared
 * value_info is never used, symbolic dims are never guessed, and only ops whose rule follows the
 * ONNX spec for every attribute it reads are listed: any other op's outputs stay of unknown dims.
 */
import { attrFloats, attrInt, attrInts, attrString, BROADCAST_OPS, isDefaultDomain, SAME_SHAPE_OPS, type onnx } from '@shrink/core';
import type { FoldView } from './fold-types.js';
import { ruleDims } from './rule-dims.js';

// Shape-preserving and broadcasting ops as core's rules list them (their rules read no attributes), and
// Add/Sub/Mul/Div, Identity and Cast, which core rules on their own.
const OTHERS = [
  'Conv',
  'ConvTranspose',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'MatMul',
  'Gemm',
  'Flatten',
  'Reshape',
  'Transpose',
  'Concat',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Shape',
  'Slice',
  'Expand',
  'Tile',
  'Pad',
  'ReduceMean',
  'ReduceSum',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL2',
  'ReduceSumSquare',
  'ArgMax',
  'ArgMin',
  'Resize',
  'Upsample',
] as const;

const PROPAGATING: ReadonlySet<string> = new Set<string>([
  ...SAME_SHAPE_OPS,
  ...BROADCAST_OPS,
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Identity',
  'Cast',
  ...OTHERS,
]);

/** Whether core's rule for this node is not trusted, in cases where it departs from onnxruntime. */
function untrusted(node: onnx.NodeProto, view: FoldView): boolean {
  switch (node.opType) {
    case 'Resize':
    case 'Upsample': {
      // Resize-18's axes and keep_aspect_ratio_policy change the dims and the rule reads neither.
      if (attrInts(node, 'axes') !== undefined || attrString(node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch') return true;
      // By scales, onnxruntime truncates a float32 product and the rule floors a double one: trusted for whole scales only.
      const sizes = view.opset >= 11 && node.input[3] ? view.value(3) : undefined;
      if (sizes && sizes.data.length > 0) return false;
      const at = view.opset >= 11 ? 2 : 1;
      const scales = node.input[at] ? view.value(at) : undefined;
      const list = scales
        ? Array.from(scales.data as ArrayLike<number>)
        : node.opType === 'Upsample'
          ? (attrFloats(node, 'scales') ?? [])
          : [];
      return list.length === 0 || !list.every((s) => Number.isInteger(s) && s > 0);
    }
    case 'BatchNormalization':
      return attrInt(node, 'training_mode', 0) !== 0;
    default:
      return false;
  }
}

/**
 * The dims of the node's first output when they follow from its inputs' fixed dims (see above);
 * undefined otherwise. Only output 0 is given: other outputs (Dropout's mask, MaxPool's indices) are
 * rarely read by Shape and some rules do not tell them apart.
 */
export function propagatedDims(node: onnx.NodeProto, view: FoldView): number[] | undefined {
  if (!isDefaultDomain(node) || !PROPAGATING.has(node.opType) || untrusted(node, view)) return undefined;
  // Every given input must have fixed dims: a rule may otherwise skip an input it does not need.
  for (let i = 0; i < node.input.length; i++) if (node.input[i] && !view.staticShape(i)) return undefined;
  const dims = ruleDims(node, view)?.dims[0];
  return dims && dims.every((d) => Number.isSafeInteger(d) && d >= 0) ? [...dims] : undefined;
}

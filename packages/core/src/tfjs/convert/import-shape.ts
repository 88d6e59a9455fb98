import type * as tfjs from '@tensorflow/tfjs';
import type { onnx } from '../../onnx/proto.js';
import { ACTIVATION_OPS } from './import-activations.js';
import { identityPerm, samePerm, type ImportBuilder, type TfValue } from './import-builder.js';
import { intAttr, intsAttr } from './onnx-attrs.js';
import { permute } from './permute.js';

type Dims = readonly (number | null)[];

const product = (dims: Dims): number | null => dims.reduce<number | null>((a, d) => (a == null || d == null ? null : a * d), 1);

/** Ops a flattened tensor's feature order passes through unchanged (each feature is treated alike or by its own parameters). */
const ORDER_KEEPING: readonly string[] = ['Identity', 'Dropout', 'BatchNormalization', ...ACTIVATION_OPS];

/**
 * Whether every use of `value` ends, through order-keeping ops only, as the A input of a Gemm/MatMul:
 * then a flattened NCHW tensor can stay in tfjs (NHWC) order and the Dense kernels absorb the order.
 */
function feedsOnlyDense(b: ImportBuilder, value: string): boolean {
  const consumers = b.graph.consumers(value);
  if (consumers.length === 0 || b.graph.isGraphOutput(value)) return false;
  return consumers.every((c) => {
    if (c.input[0] !== value || c.input.indexOf(value, 1) > 0) return false;
    if (c.opType === 'MatMul' || (c.opType === 'Gemm' && intAttr(c, 'transA', 0) === 0)) return true;
    return ORDER_KEEPING.includes(c.opType) && feedsOnlyDense(b, c.output[0]!);
  });
}

/**
 * Whether `node` turns an ONNX tensor of shape `inShape` into [batch, everything else]: Flatten with
 * axis 1, or a Reshape to [0 | -1 | batch, -1 | product].
 */
export function flattensBatch(b: ImportBuilder, node: onnx.NodeProto, inShape: Dims): boolean {
  const rank = inShape.length;
  if (node.opType === 'Flatten') return rank >= 2 && (intAttr(node, 'axis', 1) + rank) % rank === 1;
  if (node.opType !== 'Reshape') return false;
  const name = node.input[1];
  const c = name ? b.graph.constantValue(name) : undefined;
  if (!c || c.data.length !== 2) return false;
  const [s0, s1] = Array.from(c.data as ArrayLike<number | bigint>, Number) as [number, number];
  const features = product(inShape.slice(1));
  const batchOk = s0 === 0 || s0 === -1 || (s0 > 0 && s0 === inShape[0]);
  const featuresOk = s1 === -1 ? s0 !== -1 : features != null && s1 === features;
  return batchOk && featuresOk;
}

/** Flattens `x` to [batch, features] the way ONNX orders features, keeping tfjs order when Dense layers can absorb it. */
function flatten(b: ImportBuilder, node: onnx.NodeProto, x: TfValue, out: string): void {
  const rank = x.perm.length;
  if (rank === 2) {
    b.values.set(out, x);
    return;
  }
  const layer = (): tfjs.layers.Layer => b.tf.layers.flatten({ name: b.layerName() });
  const identity = samePerm(x.perm, identityPerm(rank));
  const dims = x.t.shape.slice(1);
  if (!identity && dims.every((d) => d != null) && feedsOnlyDense(b, out)) {
    const tfDims = dims as number[];
    const n = tfDims.reduce((a, d) => a * d, 1);
    const order = permute(
      Int32Array.from({ length: n }, (_, i) => i),
      tfDims,
      x.perm.slice(1).map((p) => p - 1),
      new Int32Array(n),
    );
    b.values.set(out, { t: b.apply(layer(), x.t), perm: [0, 1], rowPerm: order, nonNegative: x.nonNegative });
    return;
  }
  const t = b.apply(layer(), b.inPerm(node, x, identityPerm(rank)));
  b.values.set(out, { t, perm: [0, 1], nonNegative: x.nonNegative });
}

export function importFlatten(b: ImportBuilder, node: onnx.NodeProto): void {
  const x = b.input(node, 0);
  if (!flattensBatch(b, node, b.onnxShape(x))) {
    throw b.unsupported(node, `flattens from axis ${intAttr(node, 'axis', 1)}; only axis 1 (keep the batch) is imported`);
  }
  flatten(b, node, x, node.output[0]!);
}

/** Reshape by a constant shape keeping the batch axis -> Flatten or a tfjs Reshape. */
export function importReshape(b: ImportBuilder, node: onnx.NodeProto): void {
  const x = b.input(node, 0);
  const inShape = b.onnxShape(x);
  if (flattensBatch(b, node, inShape)) {
    flatten(b, node, x, node.output[0]!);
    return;
  }
  const shape = b.integers(node, 1)!;
  const allowZero = intAttr(node, 'allowzero', 0) !== 0;
  const [s0, ...rest] = shape;
  const keepsBatch = (s0 === 0 && !allowZero) || s0 === -1 || (s0 !== undefined && s0 > 0 && s0 === inShape[0]);
  const target = rest.map((s, i) => (s === 0 && !allowZero ? inShape[i + 1] : s));
  if (!keepsBatch || target.some((d) => d == null) || (s0 === -1 && target.includes(-1))) {
    throw b.unsupported(node, `reshapes to [${shape.join(', ')}]; only shapes that keep the batch axis first (0, -1 or its size) are imported`);
  }
  const layer = b.tf.layers.reshape({ targetShape: target as number[], name: b.layerName() });
  const t = b.apply(layer, b.inPerm(node, x, identityPerm(x.perm.length)));
  b.values.set(node.output[0]!, { t, perm: identityPerm(shape.length), nonNegative: x.nonNegative });
}

/** Transpose costs no layer: the value just records its new axis order. */
export function importTranspose(b: ImportBuilder, node: onnx.NodeProto): void {
  const x = b.input(node, 0);
  const rank = x.perm.length;
  const p = intsAttr(node, 'perm') ?? [...Array(rank).keys()].reverse();
  if (p[0] !== 0) throw b.unsupported(node, `has perm [${p.join(', ')}]; the batch axis must stay first`);
  b.values.set(node.output[0]!, { ...x, perm: p.map((i) => x.perm[i]!) });
}

export function importIdentity(b: ImportBuilder, node: onnx.NodeProto): void {
  b.values.set(node.output[0]!, b.input(node, 0));
}

/** Values computed by Constant nodes are read where they are used (weights, shapes). */
export function importConstant(): void {}

/** The inputs of a merge node in one axis order (the first input's). */
function mergeInputs(b: ImportBuilder, node: onnx.NodeProto): { first: TfValue; ts: tfjs.SymbolicTensor[] } {
  const xs = node.input.map((_, i) => b.input(node, i));
  const first = xs[0]!;
  const shape = b.onnxShape(first);
  for (const x of xs.slice(1)) {
    const s = b.onnxShape(x);
    if (s.length !== shape.length) throw b.unsupported(node, 'combines tensors of different ranks; broadcasting merges are not imported');
  }
  if (first.rowPerm && xs.every((x) => x.rowPerm && x.rowPerm.every((v, i) => v === first.rowPerm![i]))) {
    return { first, ts: xs.map((x) => x.t) };
  }
  return { first, ts: xs.map((x) => b.inPerm(node, x, first.perm)) };
}

/** Add / Mul of two computed tensors (a residual connection, a gate) -> tfjs Add / Multiply. */
export function importMerge(b: ImportBuilder, node: onnx.NodeProto): void {
  if (node.input.some((name) => b.graph.constantValue(name))) {
    throw b.unsupported(node, 'combines with a constant; only MatMul bias Adds and merges of two computed tensors are imported');
  }
  const { first, ts } = mergeInputs(b, node);
  const name = b.layerName();
  const layer = node.opType === 'Mul' ? b.tf.layers.multiply({ name }) : b.tf.layers.add({ name });
  b.values.set(node.output[0]!, { ...first, t: b.apply(layer, ts), nonNegative: false });
}

export function importConcat(b: ImportBuilder, node: onnx.NodeProto): void {
  const { first, ts } = mergeInputs(b, node);
  const rank = first.perm.length;
  const axis = (intAttr(node, 'axis', 1) + rank) % rank;
  if (axis === 0 || first.rowPerm) throw b.unsupported(node, `concatenates along axis ${axis}; only non-batch axes of unflattened tensors are imported`);
  const layer = b.tf.layers.concatenate({ axis: first.perm[axis]!, name: b.layerName() });
  b.values.set(node.output[0]!, { t: b.apply(layer, ts), perm: first.perm });
}

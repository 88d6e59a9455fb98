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
  const consumers = b.consumers(value);
  if (consumers.length === 0 || b.graph.isGraphOutput(value)) return false;
  return consumers.every((c) => {
    if (c.input[0] !== value || c.input.indexOf(value, 1) > 0) return false;
    if (c.opType === 'MatMul' || (c.opType === 'Gemm' && intAttr(c, 'transA', 0) === 0)) return true;
    return ORDER_KEEPING.includes(c.opType) && feedsOnlyDense(b, c.output[0]!);
  });
}

const sameDims = (a: Dims, b: Dims): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** The reshape a constant Reshape shape or a Flatten asks for, per sample; undefined when it moves the batch. */
function declaredTarget(b: ImportBuilder, node: onnx.NodeProto, inShape: Dims): Dims | undefined {
  const rank = inShape.length;
  const rest = inShape.slice(1);
  if (node.opType === 'Flatten') return rank >= 2 && (intAttr(node, 'axis', 1) + rank) % rank === 1 ? [product(rest)] : undefined;
  const name = node.input[1];
  const c = node.opType === 'Reshape' && name ? b.graph.constantValue(name) : undefined;
  if (!c) return undefined;
  const [s0, ...given] = Array.from(c.data as ArrayLike<number | bigint>, Number);
  const allowZero = intAttr(node, 'allowzero', 0) !== 0;
  const target = given.map((s, i) => (s === 0 && !allowZero ? (rest[i] ?? null) : s));
  if (target.some((d) => d == null)) return undefined;
  if (s0 === -1) {
    // Only a per-sample size equal to the input's keeps the batch where it was.
    const features = product(rest);
    return !target.includes(-1) && features != null && product(target) === features ? target : undefined;
  }
  const keepsBatch = (s0 === 0 && !allowZero) || (s0 !== undefined && s0 > 0 && s0 === inShape[0]);
  return keepsBatch ? target : undefined;
}

/** Ops that only rearrange a tensor's dims, imported by `importReshape`. */
export const RESHAPE_OPS: readonly string[] = ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'];

/**
 * The per-sample ONNX shape a Reshape / Flatten / Squeeze / Unsqueeze gives its data input (of ONNX
 * shape `inShape`, batch first), or undefined when it does not keep the batch axis first. Static shape
 * inference at two batch sizes decides first — it resolves targets computed by shape subgraphs, and
 * PyTorch's [N, -1] — then a constant target or Flatten's axis; -1 or null may remain for tfjs to fill.
 */
export function reshapeTarget(b: ImportBuilder, node: onnx.NodeProto, inShape: Dims): Dims | undefined {
  if (!RESHAPE_OPS.includes(node.opType)) return undefined;
  const ins = b.staticShapes(node.input[0] ?? '');
  const outs = b.staticShapes(node.output[0] ?? '');
  if (ins && outs) {
    const [[ia, ib], [oa, ob]] = [ins, outs];
    if (oa.length > 0 && oa[0] === ia[0] && ob[0] === ib[0] && sameDims(oa.slice(1), ob.slice(1))) return oa.slice(1);
  }
  return declaredTarget(b, node, inShape);
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
    const tfDims = dims;
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

/**
 * Reshape, Flatten, Squeeze and Unsqueeze keeping the batch axis first: nothing when the shape stays,
 * a Flatten when one feature axis remains, else a tfjs Reshape of the non-batch dims.
 */
export function importReshape(b: ImportBuilder, node: onnx.NodeProto): void {
  const x = b.input(node, 0);
  const inShape = b.onnxShape(x);
  const target = reshapeTarget(b, node, inShape);
  const out = node.output[0]!;
  if (!target) {
    const ins = b.staticShapes(node.input[0] ?? '');
    const outs = b.staticShapes(out);
    const shapeInput = node.opType === 'Reshape' ? node.input[1] : undefined;
    if (!(ins && outs) && shapeInput && !b.graph.constantValue(shapeInput)) {
      throw b.unsupported(
        node,
        `takes its shape '${shapeInput}' from a computation static shape inference could not resolve; the input shapes must be declared`,
      );
    }
    const seen = ins && outs ? ` (static shapes [${ins[0].join(', ')}] -> [${outs[0].join(', ')}] at batch ${ins[0][0]})` : '';
    throw b.unsupported(
      node,
      `does not keep the batch axis first with fixed other dims${seen}; only reshapes to [batch, ...] whose other dims are constant or follow from a constant shape are imported`,
    );
  }
  if (target.every((d) => d != null && d >= 0) && sameDims(target, inShape.slice(1))) {
    b.values.set(out, x);
    return;
  }
  if (target.length === 1) {
    flatten(b, node, x, out);
    return;
  }
  if (target.some((d) => d == null)) throw b.unsupported(node, `reshapes to dims [${target.join(', ')}] not known before run time`);
  const layer = b.tf.layers.reshape({ targetShape: target as number[], name: b.layerName() });
  const t = b.apply(layer, b.inPerm(node, x, identityPerm(x.perm.length)));
  b.values.set(out, { t, perm: identityPerm(target.length + 1), nonNegative: x.nonNegative });
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
  if (axis === 0 || first.rowPerm)
    throw b.unsupported(node, `concatenates along axis ${axis}; only non-batch axes of unflattened tensors are imported`);
  const layer = b.tf.layers.concatenate({ axis: first.perm[axis]!, name: b.layerName() });
  b.values.set(node.output[0]!, { t: b.apply(layer, ts), perm: first.perm });
}

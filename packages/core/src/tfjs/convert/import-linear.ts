import type { onnx } from '../../onnx/proto.js';
import { fuseActivation } from './import-activations.js';
import { identityPerm, type ImportBuilder, type TfValue, type Weight } from './import-builder.js';
import { floatAttr, intAttr } from './onnx-attrs.js';
import { permute } from './permute.js';

/** Rows of a [K, N] kernel moved so that tfjs feature rowPerm[i] meets ONNX row i. */
function reorderRows(kernel: Float32Array, n: number, rowPerm: Int32Array): Float32Array {
  const out = new Float32Array(kernel.length);
  rowPerm.forEach((to, from) => out.set(kernel.subarray(from * n, from * n + n), to * n));
  return out;
}

/** Bias of length n from a constant of n elements or a broadcast scalar. */
function biasOf(b: ImportBuilder, node: onnx.NodeProto, c: Weight, n: number, scale: number): Float32Array {
  const numel = c.data.length;
  if (numel !== n && numel !== 1) {
    throw b.unsupported(node, `adds a bias of shape [${c.dims.join(', ')}]; a Dense bias needs ${n} values (or one broadcast value)`);
  }
  return Float32Array.from({ length: n }, (_, i) => c.data[numel === 1 ? 0 : i]! * scale);
}

/** A Dense layer computing `x @ kernel + bias` ([K, N] kernel), with the following activation fused. */
function dense(
  b: ImportBuilder,
  node: onnx.NodeProto,
  x: TfValue,
  kernel: Float32Array,
  k: number,
  n: number,
  bias: Float32Array | undefined,
  out: string,
): void {
  const rank = x.perm.length;
  const input = x.rowPerm ? x.t : b.inPerm(node, x, identityPerm(rank));
  const rows = x.rowPerm ? reorderRows(kernel, n, x.rowPerm) : kernel;
  const fused = fuseActivation(b, node, out, identityPerm(rank));
  const layer = b.tf.layers.dense({
    units: n,
    useBias: bias !== undefined,
    activation: (fused?.activation ?? 'linear') as 'linear',
    kernelInitializer: 'zeros',
    name: b.layerName(),
  });
  const weights: Weight[] = [{ dims: [k, n], data: rows }];
  if (bias) weights.push({ dims: [n], data: bias });
  const t = b.apply(layer, input, weights);
  b.values.set(fused?.output ?? out, { t, perm: identityPerm(rank), nonNegative: fused?.nonNegative });
}

function matrix(b: ImportBuilder, node: onnx.NodeProto, w: Weight): [number, number] {
  if (w.dims.length !== 2) throw b.unsupported(node, `has a rank-${w.dims.length} weight; only a 2-D constant B is imported as Dense`);
  return [w.dims[0]!, w.dims[1]!];
}

/** Gemm: Y = alpha * A @ op(B) + beta * C with constant B (and C) -> Dense. */
export function importGemm(b: ImportBuilder, node: onnx.NodeProto): void {
  if (intAttr(node, 'transA', 0) !== 0) throw b.unsupported(node, 'has transA=1; the batch must be the rows of A');
  const x = b.input(node, 0);
  const w = b.constant(node, 1, 'weight B');
  const [r, c] = matrix(b, node, w);
  const transB = intAttr(node, 'transB', 0) !== 0;
  const [k, n] = transB ? [c, r] : [r, c];
  const kernel = transB ? permute(w.data, w.dims, [1, 0]) : w.data;
  const alpha = floatAttr(node, 'alpha', 1);
  if (alpha !== 1) kernel.forEach((v, i) => (kernel[i] = v * alpha));
  const cw = b.optionalConstant(node, 2);
  const bias = cw ? biasOf(b, node, cw, n, floatAttr(node, 'beta', 1)) : undefined;
  dense(b, node, x, kernel, k, n, bias, node.output[0]!);
}

/** MatMul by a constant matrix -> Dense; an Add of a constant that alone follows it becomes the bias. */
export function importMatMul(b: ImportBuilder, node: onnx.NodeProto): void {
  const x = b.input(node, 0);
  const w = b.constant(node, 1, 'weight B');
  const [k, n] = matrix(b, node, w);
  let out = node.output[0]!;
  let bias: Float32Array | undefined;
  const consumers = b.consumers(out);
  const add = consumers[0];
  if (consumers.length === 1 && add?.opType === 'Add' && !b.graph.isGraphOutput(out)) {
    const other = add.input[0] === out ? add.input[1] : add.input[0];
    const c = other ? b.graph.constantValue(other) : undefined;
    if (c && (c.data.length === n || c.data.length === 1) && c.dims.length <= x.perm.length) {
      bias = biasOf(b, add, b.optionalConstant(add, add.input.indexOf(other!))!, n, 1);
      b.absorbed.set(add, node);
      out = add.output[0]!;
    }
  }
  dense(b, node, x, Float32Array.from(w.data), k, n, bias, out);
}

/** Inference BatchNormalization over ONNX axis 1 -> tfjs BatchNormalization on the matching axis. */
export function importBatchNorm(b: ImportBuilder, node: onnx.NodeProto): void {
  if (intAttr(node, 'training_mode', 0) !== 0 || node.output.slice(1).some((o) => o !== '')) {
    throw b.unsupported(node, 'runs in training mode (running statistics as outputs); only inference BatchNormalization is imported');
  }
  const x = b.input(node, 0);
  if (x.perm.length < 2) throw b.unsupported(node, 'normalises a rank-1 tensor; the channel axis must be axis 1');
  let params = (['scale', 'bias', 'mean', 'variance'] as const).map((what, i) => b.constant(node, i + 1, what).data);
  if (x.rowPerm) {
    const order = x.rowPerm;
    params = params.map((p) => {
      const q = new Float32Array(p.length);
      order.forEach((to, from) => (q[to] = p[from]!));
      return q;
    });
  }
  const c = params[0]!.length;
  const layer = b.tf.layers.batchNormalization({
    axis: x.perm[1]!,
    epsilon: floatAttr(node, 'epsilon', 1e-5),
    name: b.layerName(),
  });
  const t = b.apply(
    layer,
    x.t,
    params.map((data) => ({ dims: [c], data })),
  );
  b.values.set(node.output[0]!, { t, perm: x.perm, rowPerm: x.rowPerm });
}

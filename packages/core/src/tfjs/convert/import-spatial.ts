import type * as tfjs from '@tensorflow/tfjs';
import type { onnx } from '../../onnx/proto.js';
import { fuseActivation } from './import-activations.js';
import type { ImportBuilder, TfValue, Weight } from './import-builder.js';
import { reshapeTarget } from './import-shape.js';
import { floatAttr, intAttr, intsAttr, stringAttr } from './onnx-attrs.js';
import { samePads } from './padding.js';
import { NHWC_TO_NCHW, permute } from './permute.js';

type Pair = [number, number];
/** 'same'/'valid' as tfjs has them, or explicit [[top, bottom], [left, right]] zero padding before a 'valid' window. */
type Padding = { kind: 'same' } | { kind: 'valid' } | { kind: 'explicit'; pads: [Pair, Pair] };

function pairAttr(b: ImportBuilder, node: onnx.NodeProto, name: string, fallback: Pair): Pair {
  const v = intsAttr(node, name);
  if (v === undefined) return fallback;
  if (v.length !== 2) throw b.unsupported(node, `has ${name} [${v.join(', ')}]; only 2-D windows are imported`);
  return [v[0]!, v[1]!];
}

/** The ONNX window padding of `node` in tfjs terms; recognises tfjs 'same' when the spatial size is known. */
function windowPadding(b: ImportBuilder, node: onnx.NodeProto, x: TfValue, kernel: Pair, strides: Pair, dilations: Pair): Padding {
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET');
  const [, , h, w] = b.onnxShape(x);
  const same = (): [Pair, Pair] | undefined =>
    h == null || w == null
      ? undefined
      : [samePads(h, kernel[0], strides[0], dilations[0]), samePads(w, kernel[1], strides[1], dilations[1])];
  if (autoPad === 'VALID') return { kind: 'valid' };
  if (autoPad === 'SAME_UPPER') return { kind: 'same' };
  if (autoPad === 'SAME_LOWER') {
    const s = same();
    if (!s) throw b.unsupported(node, 'uses auto_pad SAME_LOWER on an input of unknown height/width');
    return {
      kind: 'explicit',
      pads: [
        [s[0][1], s[0][0]],
        [s[1][1], s[1][0]],
      ],
    };
  }
  const pads = intsAttr(node, 'pads') ?? [0, 0, 0, 0];
  if (pads.length !== 4 || pads.some((p) => p < 0))
    throw b.unsupported(node, `has pads [${pads.join(', ')}]; 4 non-negative pads are imported`);
  const [top, left, bottom, right] = pads as [number, number, number, number];
  if (pads.every((p) => p === 0)) return { kind: 'valid' };
  const s = same();
  if (s && s[0][0] === top && s[0][1] === bottom && s[1][0] === left && s[1][1] === right) return { kind: 'same' };
  return {
    kind: 'explicit',
    pads: [
      [top, bottom],
      [left, right],
    ],
  };
}

/** Applies explicit zero padding and returns the padding the window layer itself should use. */
function padInput(b: ImportBuilder, t: tfjs.SymbolicTensor, p: Padding): [tfjs.SymbolicTensor, 'same' | 'valid'] {
  if (p.kind !== 'explicit') return [t, p.kind];
  const layer = b.tf.layers.zeroPadding2d({ padding: p.pads, name: b.layerName('pad') });
  return [b.apply(layer, t), 'valid'];
}

/** Conv (2-D, NCHW, group 1 or depthwise) -> Conv2D / DepthwiseConv2D on NHWC, kernel OIHW -> HWIO. */
export function importConv(b: ImportBuilder, node: onnx.NodeProto): void {
  const x = b.input(node, 0);
  if (x.perm.length !== 4) throw b.unsupported(node, `convolves a rank-${x.perm.length} tensor; only 2-D (NCHW) Conv is imported`);
  const w = b.constant(node, 1, 'weight W');
  if (w.dims.length !== 4) throw b.unsupported(node, `has a rank-${w.dims.length} kernel; only 2-D Conv is imported`);
  const [o, i, kh, kw] = w.dims as [number, number, number, number];
  const bias = b.optionalConstant(node, 2);
  const strides = pairAttr(b, node, 'strides', [1, 1]);
  const dilations = pairAttr(b, node, 'dilations', [1, 1]);
  if (strides.some((s) => s > 1) && dilations.some((d) => d > 1)) {
    throw b.unsupported(node, 'has both strides > 1 and dilations > 1, which tfjs convolutions do not support together');
  }
  const group = intAttr(node, 'group', 1);
  const xt = b.inPerm(node, x, NHWC_TO_NCHW);
  const cin = xt.shape[3];
  const padding = windowPadding(b, node, x, [kh, kw], strides, dilations);
  const [input, mode] = padInput(b, xt, padding);
  const fused = fuseActivation(b, node, node.output[0]!, NHWC_TO_NCHW);
  const common = {
    kernelSize: [kh, kw] as Pair,
    strides,
    dilationRate: dilations,
    padding: mode,
    useBias: bias !== undefined,
    activation: (fused?.activation ?? 'linear') as 'linear',
    name: b.layerName(),
  };
  let layer: tfjs.layers.Layer;
  let kernel: Weight;
  if (group === 1) {
    layer = b.tf.layers.conv2d({ ...common, filters: o, kernelInitializer: 'zeros' });
    kernel = { dims: [kh, kw, i, o], data: permute(w.data, w.dims, [2, 3, 1, 0]) };
  } else if (group === cin && i === 1 && o % group === 0) {
    const m = o / group;
    layer = b.tf.layers.depthwiseConv2d({ ...common, kernelSize: [kh, kw], depthMultiplier: m, depthwiseInitializer: 'zeros' });
    kernel = { dims: [kh, kw, group, m], data: permute(w.data, [group, m, kh, kw], [2, 3, 0, 1]) };
  } else {
    throw b.unsupported(
      node,
      `has group=${group} on ${cin ?? '?'} input channels; only group 1 and depthwise (group = input channels) are imported`,
    );
  }
  const weights = bias ? [kernel, { dims: [o], data: bias.data }] : [kernel];
  const t = b.apply(layer, input, weights);
  b.values.set(fused?.output ?? node.output[0]!, { t, perm: NHWC_TO_NCHW, nonNegative: fused?.nonNegative });
}

/** MaxPool / AveragePool (2-D, NCHW) -> MaxPooling2D / AveragePooling2D. */
export function importPool(b: ImportBuilder, node: onnx.NodeProto): void {
  const x = b.input(node, 0);
  if (x.perm.length !== 4) throw b.unsupported(node, `pools a rank-${x.perm.length} tensor; only 2-D (NCHW) pooling is imported`);
  const kernel = pairAttr(b, node, 'kernel_shape', [1, 1]);
  const strides = pairAttr(b, node, 'strides', [1, 1]);
  if (intAttr(node, 'ceil_mode', 0) !== 0) throw b.unsupported(node, 'uses ceil_mode=1; tfjs pooling rounds output sizes down');
  if (pairAttr(b, node, 'dilations', [1, 1]).some((d) => d !== 1)) throw b.unsupported(node, 'has dilations; tfjs pooling has none');
  if (node.output.length > 1 && node.output[1]) throw b.unsupported(node, 'returns argmax indices, which tfjs pooling does not');
  const max = node.opType === 'MaxPool';
  const countPads = intAttr(node, 'count_include_pad', 0) !== 0;
  let padding = windowPadding(b, node, x, kernel, strides, [1, 1]);
  if (!max && countPads && padding.kind === 'same') {
    // tfjs 'same' averages real pixels only; counting the pads means explicit zero padding.
    const [, , h, w] = b.onnxShape(x);
    if (h == null || w == null) throw b.unsupported(node, 'counts padding in averages on an input of unknown height/width');
    padding = { kind: 'explicit', pads: [samePads(h, kernel[0], strides[0]), samePads(w, kernel[1], strides[1])] };
  }
  if (padding.kind === 'explicit' && !max && !countPads) {
    throw b.unsupported(node, "averages real pixels only under padding that is not tfjs 'same'; tfjs can do that only for 'same'");
  }
  if (padding.kind === 'explicit' && max && !x.nonNegative) {
    throw b.unsupported(
      node,
      "pads explicitly (not tfjs 'same'); tfjs can only pad with zeros, which equals MaxPool's -inf padding for non-negative inputs (after Relu) only",
    );
  }
  const [input, mode] = padInput(b, b.inPerm(node, x, NHWC_TO_NCHW), padding);
  const args = { poolSize: kernel, strides, padding: mode, name: b.layerName() };
  const layer = max ? b.tf.layers.maxPooling2d(args) : b.tf.layers.averagePooling2d(args);
  b.values.set(node.output[0]!, { t: b.apply(layer, input), perm: NHWC_TO_NCHW, nonNegative: x.nonNegative });
}

/**
 * GlobalAveragePool / GlobalMaxPool -> GlobalAveragePooling2D / GlobalMaxPooling2D. ONNX keeps [N, C, 1, 1];
 * a Flatten (or flattening Reshape / Squeeze) right after is absorbed, otherwise the result is reshaped to [1, 1, C].
 */
export function importGlobalPool(b: ImportBuilder, node: onnx.NodeProto): void {
  const x = b.input(node, 0);
  if (x.perm.length !== 4) throw b.unsupported(node, `pools a rank-${x.perm.length} tensor; only 2-D (NCHW) pooling is imported`);
  const name = b.layerName();
  const layer = node.opType === 'GlobalMaxPool' ? b.tf.layers.globalMaxPooling2d({ name }) : b.tf.layers.globalAveragePooling2d({ name });
  const pooled = b.apply(layer, b.inPerm(node, x, NHWC_TO_NCHW));
  const out = node.output[0]!;
  const consumers = b.consumers(out);
  const next = consumers[0];
  if (
    consumers.length === 1 &&
    next &&
    !b.graph.isGraphOutput(out) &&
    reshapeTarget(b, next, [null, pooled.shape[1] ?? null, 1, 1])?.length === 1
  ) {
    b.absorbed.set(next, node);
    b.values.set(next.output[0]!, { t: pooled, perm: [0, 1], nonNegative: x.nonNegative });
    return;
  }
  const c = pooled.shape[1];
  if (c == null) throw b.unsupported(node, 'pools an input with an unknown channel count');
  const t = b.apply(b.tf.layers.reshape({ targetShape: [1, 1, c], name: b.layerName('keepdims') }), pooled);
  b.values.set(out, { t, perm: NHWC_TO_NCHW, nonNegative: x.nonNegative });
}

/** Constant zero Pad of the two spatial axes -> ZeroPadding2D. */
export function importPad(b: ImportBuilder, node: onnx.NodeProto): void {
  const x = b.input(node, 0);
  const rank = x.perm.length;
  if (stringAttr(node, 'mode', 'constant') !== 'constant')
    throw b.unsupported(node, `pads in mode '${stringAttr(node, 'mode', '')}'; only constant zero padding is imported`);
  const value = b.opset < 11 ? floatAttr(node, 'value', 0) : (b.optionalConstant(node, 2)?.data[0] ?? 0);
  if (value !== 0) throw b.unsupported(node, `pads with ${value}; only zero padding is imported`);
  const given = (b.opset < 11 ? intsAttr(node, 'pads') : b.integers(node, 1)) ?? [];
  const axes = (b.opset >= 18 ? b.integers(node, 3) : undefined)?.map((a) => (a + rank) % rank) ?? [...Array(rank).keys()];
  if (given.length !== 2 * axes.length) throw b.unsupported(node, `has ${given.length} pads for ${axes.length} axes`);
  const begin = new Array<number>(rank).fill(0);
  const end = new Array<number>(rank).fill(0);
  axes.forEach((a, i) => {
    begin[a] = given[i]!;
    end[a] = given[i + axes.length]!;
  });
  // tfjs axis a is ONNX axis inv[a]; ZeroPadding2D pads tfjs axes 1 and 2 (NHWC height and width).
  const inv = new Array<number>(rank);
  x.perm.forEach((p, i) => (inv[p] = i));
  const spatial = rank === 4 ? [inv[1]!, inv[2]!] : [];
  const other = [...Array(rank).keys()].filter((a) => !spatial.includes(a));
  if (rank !== 4 || other.some((a) => begin[a] !== 0 || end[a] !== 0) || [...begin, ...end].some((p) => p < 0)) {
    throw b.unsupported(node, `pads [${given.join(', ')}]; only non-negative padding of the height and width of an image is imported`);
  }
  const [hAxis, wAxis] = spatial as [number, number];
  const pads: [Pair, Pair] = [
    [begin[hAxis]!, end[hAxis]!],
    [begin[wAxis]!, end[wAxis]!],
  ];
  const t = b.apply(b.tf.layers.zeroPadding2d({ padding: pads, name: b.layerName() }), x.t);
  b.values.set(node.output[0]!, { t, perm: x.perm, nonNegative: x.nonNegative });
}

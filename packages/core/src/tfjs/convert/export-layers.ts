import type * as tfjs from '@tensorflow/tfjs';
import { attr } from '../../onnx/builder.js';
import { ShrinkError } from '../../errors.js';
import { emitActivation } from './export-activations.js';
import { onnxAxis, type OnnxEmitter, type OnnxValue } from './onnx-emitter.js';
import { permute } from './permute.js';
import { samePads } from './padding.js';

type Shape = readonly (number | null)[];

export interface LayerExportArgs {
  layer: tfjs.layers.Layer;
  config: Record<string, unknown>;
  inputs: OnnxValue[];
  /** tfjs (NHWC) shapes of the inputs, batch first. */
  inputShapes: Shape[];
  em: OnnxEmitter;
}

/** Returns the layer's output, or null for layers that do nothing at inference (the input passes through). */
export type LayerExporter = (a: LayerExportArgs) => OnnxValue | null;

interface Weight {
  dims: number[];
  data: Float32Array;
}

function weightsOf(layer: tfjs.layers.Layer): Map<string, Weight> {
  const out = new Map<string, Weight>();
  const values = layer.getWeights();
  layer.weights.forEach((w, i) => {
    const t = values[i]!;
    const key = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
    out.set(key, { dims: [...t.shape], data: Float32Array.from(t.dataSync()) });
  });
  return out;
}

function need(ws: Map<string, Weight>, key: string, layer: tfjs.layers.Layer): Weight {
  const w = ws.get(key);
  if (!w) throw new ShrinkError('INVALID_MODEL', `layer '${layer.name}' has no '${key}' weight; was it built?`);
  return w;
}

function pair(v: unknown): [number, number] {
  const a = Array.isArray(v) ? (v as number[]) : [v as number, v as number];
  return [a[0]!, a[1] ?? a[0]!];
}

function requireChannelsLast({ layer, config }: LayerExportArgs): void {
  const format = config['dataFormat'];
  if (format !== undefined && format !== 'channelsLast') {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `layer '${layer.name}' (${layer.getClassName()}) uses dataFormat ${JSON.stringify(format)}; only 'channelsLast' is exported`,
    );
  }
}

function requireRank(a: LayerExportArgs, rank: number): OnnxValue {
  const x = a.inputs[0]!;
  if (x.rank !== rank) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `layer '${a.layer.name}' (${a.layer.getClassName()}) gets a rank-${x.rank} input; it is exported for rank ${rank} only`,
    );
  }
  return x;
}

/** Explicit pads for a 2-D window; 'same' becomes SAME_UPPER when the spatial size is unknown. */
function windowPads(
  a: LayerExportArgs,
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number] = [1, 1],
): Record<string, number[] | string> {
  const padding = a.config['padding'];
  if (padding === 'valid') return { pads: [0, 0, 0, 0] };
  if (padding !== 'same') {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `layer '${a.layer.name}' uses padding '${String(padding)}'; exported paddings are 'same' and 'valid'`,
    );
  }
  const [, h, w] = a.inputShapes[0]!;
  if (h == null || w == null) return { auto_pad: 'SAME_UPPER' };
  const [top, bottom] = samePads(h, kernel[0], strides[0], dilations[0]);
  const [left, right] = samePads(w, kernel[1], strides[1], dilations[1]);
  return { pads: [top, left, bottom, right] };
}

const activation = (a: LayerExportArgs, y: OnnxValue): OnnxValue =>
  // A tfjs activation name; anything else is refused by emitActivation, by its text.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  emitActivation(a.em, y, String(a.config['activation'] ?? 'linear'), a.layer.name);

const dense: LayerExporter = (a) => {
  const ws = weightsOf(a.layer);
  const kernel = need(ws, 'kernel', a.layer);
  const bias = ws.get('bias');
  const em = a.em;
  const x = em.toLayout(a.inputs[0]!, 'native');
  const w = em.weight('kernel', kernel.dims, kernel.data);
  const b = bias ? em.weight('bias', bias.dims, bias.data) : undefined;
  let y: string;
  // Gemm is one node but only takes matrices; Dense on higher ranks acts on the last axis like MatMul.
  if (x.rank === 2) y = em.op('Gemm', b ? [x.name, w, b] : [x.name, w]);
  else {
    y = em.op('MatMul', [x.name, w]);
    if (b) y = em.op('Add', [y, b]);
  }
  return activation(a, { name: y, layout: 'native', rank: x.rank });
};

function conv(a: LayerExportArgs, depthwise: boolean): OnnxValue {
  requireChannelsLast(a);
  const em = a.em;
  const x = em.toLayout(requireRank(a, 4), 'nchw');
  const ws = weightsOf(a.layer);
  const kernel = need(ws, depthwise ? 'depthwise_kernel' : 'kernel', a.layer);
  const bias = ws.get('bias');
  const [kh, kw, cin, cout] = kernel.dims as [number, number, number, number];
  // HWIO -> OIHW; a depthwise kernel [kh,kw,C,M] becomes C groups of M filters: [C*M, 1, kh, kw].
  const w = depthwise
    ? em.weight('kernel', [cin * cout, 1, kh, kw], permute(kernel.data, kernel.dims, [2, 3, 0, 1]))
    : em.weight('kernel', [cout, cin, kh, kw], permute(kernel.data, kernel.dims, [3, 2, 0, 1]));
  const strides = pair(a.config['strides']);
  const dilations = pair(a.config['dilationRate'] ?? 1);
  const inputs = [x.name, w];
  if (bias) inputs.push(em.weight('bias', bias.dims, bias.data));
  const y = em.op('Conv', inputs, {
    kernel_shape: [kh, kw],
    strides,
    dilations,
    group: depthwise ? cin : 1,
    ...windowPads(a, [kh, kw], strides, dilations),
  });
  return activation(a, { name: y, layout: 'nchw', rank: 4 });
}

function pool(opType: 'MaxPool' | 'AveragePool'): LayerExporter {
  return (a) => {
    requireChannelsLast(a);
    const x = a.em.toLayout(requireRank(a, 4), 'nchw');
    const kernel = pair(a.config['poolSize']);
    const strides = pair(a.config['strides'] ?? kernel);
    // tfjs averages over the real pixels of a padded window only.
    const extra: Record<string, number> = opType === 'AveragePool' ? { count_include_pad: 0 } : {};
    const y = a.em.op(opType, [x.name], { kernel_shape: kernel, strides, ...windowPads(a, kernel, strides), ...extra });
    return { name: y, layout: 'nchw', rank: 4 };
  };
}

function globalPool(opType: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerExporter {
  return (a) => {
    requireChannelsLast(a);
    const x = a.em.toLayout(requireRank(a, 4), 'nchw');
    const y = a.em.op('Flatten', [a.em.op(opType, [x.name])], { axis: 1 });
    return { name: y, layout: 'native', rank: 2 };
  };
}

const flatten: LayerExporter = (a) => {
  const x = a.em.toLayout(a.inputs[0]!, 'native');
  if (x.rank === 2) return null;
  return { name: a.em.op('Flatten', [x.name], { axis: 1 }), layout: 'native', rank: 2 };
};

const reshape: LayerExporter = (a) => {
  const x = a.em.toLayout(a.inputs[0]!, 'native');
  const target = a.config['targetShape'] as number[];
  const shape = a.em.int64s('shape', [0, ...target]);
  return { name: a.em.op('Reshape', [x.name, shape]), layout: 'native', rank: target.length + 1 };
};

const batchNorm: LayerExporter = (a) => {
  const em = a.em;
  const x0 = a.inputs[0]!;
  const axisCfg = a.config['axis'];
  const axis = Array.isArray(axisCfg) && axisCfg.length === 1 ? (axisCfg[0] as number) : (axisCfg as number);
  if (typeof axis !== 'number' || (axis + x0.rank) % x0.rank !== x0.rank - 1) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `layer '${a.layer.name}' (BatchNormalization) normalises axis ${JSON.stringify(axisCfg)}; only the last (channel) axis is exported`,
    );
  }
  const ws = weightsOf(a.layer);
  const mean = need(ws, 'moving_mean', a.layer);
  const variance = need(ws, 'moving_variance', a.layer);
  const c = mean.data.length;
  const gamma = ws.get('gamma')?.data ?? new Float32Array(c).fill(1);
  const beta = ws.get('beta')?.data ?? new Float32Array(c);
  const epsilon = Number(a.config['epsilon'] ?? 1e-3);
  // ONNX BatchNormalization normalises axis 1: NCHW images and [N, C] matrices fit; other ranks get the folded form.
  if (x0.rank === 4 || x0.rank === 2) {
    const x = em.toLayout(x0, 'nchw');
    const y = em.op(
      'BatchNormalization',
      [
        x.name,
        em.weight('scale', [c], gamma),
        em.weight('bias', [c], beta),
        em.weight('mean', [c], mean.data),
        em.weight('var', [c], variance.data),
      ],
      { epsilon: attr.float(epsilon) },
    );
    return { name: y, layout: x.layout, rank: x.rank };
  }
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    scale[i] = gamma[i]! / Math.sqrt(variance.data[i]! + epsilon);
    shift[i] = beta[i]! - mean.data[i]! * scale[i]!;
  }
  const x = em.toLayout(x0, 'native');
  const y = em.op('Add', [em.op('Mul', [x.name, em.weight('scale', [c], scale)]), em.weight('shift', [c], shift)]);
  return { name: y, layout: 'native', rank: x.rank };
};

const relu: LayerExporter = (a) => {
  const max = a.config['maxValue'];
  const x = a.inputs[0]!;
  if (max == null) return { ...x, name: a.em.op('Relu', [x.name]) };
  const lo = a.em.weight('min', [], Float32Array.of(0));
  const hi = a.em.weight('max', [], Float32Array.of(Number(max)));
  return { ...x, name: a.em.op('Clip', [x.name, lo, hi]) };
};

const leakyRelu: LayerExporter = (a) => {
  const x = a.inputs[0]!;
  return { ...x, name: a.em.op('LeakyRelu', [x.name], { alpha: attr.float(Number(a.config['alpha'] ?? 0.3)) }) };
};

const elu: LayerExporter = (a) => {
  const x = a.inputs[0]!;
  return { ...x, name: a.em.op('Elu', [x.name], { alpha: attr.float(Number(a.config['alpha'] ?? 1)) }) };
};

const softmax: LayerExporter = (a) => {
  const x = a.inputs[0]!;
  const cfg = a.config['axis'] ?? -1;
  const axes = Array.isArray(cfg) ? (cfg as number[]) : [cfg as number];
  if (axes.length !== 1) {
    throw new ShrinkError('UNSUPPORTED_MODEL', `layer '${a.layer.name}' (Softmax) uses axes ${JSON.stringify(cfg)}; one axis is exported`);
  }
  return { ...x, name: a.em.op('Softmax', [x.name], { axis: onnxAxis(x, axes[0]!) }) };
};

const zeroPadding: LayerExporter = (a) => {
  requireChannelsLast(a);
  const x = a.em.toLayout(requireRank(a, 4), 'nchw');
  const [[top, bottom], [left, right]] = a.config['padding'] as [[number, number], [number, number]];
  const pads = a.em.int64s('pads', [0, 0, top, left, 0, 0, bottom, right]);
  return { name: a.em.op('Pad', [x.name, pads]), layout: 'nchw', rank: 4 };
};

function merge(opType: 'Add' | 'Mul'): LayerExporter {
  return (a) => {
    const first = a.inputs[0]!;
    let y = first.name;
    for (const other of a.inputs.slice(1)) y = a.em.op(opType, [y, a.em.toLayout(other, first.layout).name]);
    return { ...first, name: y };
  };
}

const concatenate: LayerExporter = (a) => {
  const first = a.inputs[0]!;
  const names = a.inputs.map((v) => a.em.toLayout(v, first.layout).name);
  const axis = onnxAxis(first, Number(a.config['axis'] ?? -1));
  return { ...first, name: a.em.op('Concat', names, { axis }) };
};

const passThrough: LayerExporter = () => null;

/** tfjs layer class -> ONNX export. Layers absent here are refused with the list of these keys. */
export const LAYER_EXPORTERS: ReadonlyMap<string, LayerExporter> = new Map<string, LayerExporter>([
  ['Dense', dense],
  ['Conv2D', (a) => conv(a, false)],
  ['DepthwiseConv2D', (a) => conv(a, true)],
  ['MaxPooling2D', pool('MaxPool')],
  ['AveragePooling2D', pool('AveragePool')],
  ['GlobalAveragePooling2D', globalPool('GlobalAveragePool')],
  ['GlobalMaxPooling2D', globalPool('GlobalMaxPool')],
  ['Flatten', flatten],
  ['Reshape', reshape],
  ['BatchNormalization', batchNorm],
  ['ZeroPadding2D', zeroPadding],
  ['Activation', (a) => activation(a, a.inputs[0]!)],
  ['ReLU', relu],
  ['LeakyReLU', leakyRelu],
  ['ELU', elu],
  ['Softmax', softmax],
  ['Add', merge('Add')],
  ['Multiply', merge('Mul')],
  ['Concatenate', concatenate],
  ['Dropout', passThrough],
  ['SpatialDropout1D', passThrough],
  ['AlphaDropout', passThrough],
  ['GaussianDropout', passThrough],
  ['GaussianNoise', passThrough],
]);

import type * as tfjs from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { decideOutputKind, type FinalActivation, type FinalOp, type OutputKindDecision } from '../measure/output-kind.js';

type Tf = typeof tfjs;

/** Layers whose `activation: 'linear'` makes them affine (an Activation('linear') is only an identity). */
const AFFINE_CLASSES = new Set(['Dense', 'Conv1D', 'Conv2D', 'Conv2DTranspose', 'Conv3D', 'DepthwiseConv2D', 'SeparableConv2D']);

/** tfjs activation identifiers that decide an output kind (see decideOutputKind). */
const ACTIVATIONS: ReadonlyMap<string, FinalActivation> = new Map([
  ['softmax', 'softmax'],
  ['logSoftmax', 'logSoftmax'],
  ['sigmoid', 'sigmoid'],
]);

/**
 * The layer computing the model's first output, as decideOutputKind reads it: an imported ONNX model's
 * Gemm is a Dense layer, its Softmax an Activation layer or the Dense layer's fused activation.
 */
export function layersFinalOp(model: tfjs.LayersModel): FinalOp & { layer: tfjs.layers.Layer } {
  const layer = (model.outputs[0] as tfjs.SymbolicTensor).sourceLayer;
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as { activation?: unknown; axis?: unknown };
  const act = typeof cfg.activation === 'string' ? cfg.activation : undefined;
  const what = `${cls} layer '${layer.name}'${act ? ` (${act})` : ''}`;
  if (act !== undefined && ACTIVATIONS.has(act)) return { activation: ACTIVATIONS.get(act)!, what, layer };
  if (act === 'linear' && AFFINE_CLASSES.has(cls)) return { activation: 'linear', what, layer };
  if (cls === 'BatchNormalization') return { activation: 'linear', what, layer };
  if (cls === 'Softmax') {
    // tf.layers.softmax may normalise another axis than the classes; then the rows decide.
    const rank = (model.outputs[0] as tfjs.SymbolicTensor).shape.length;
    const axis = typeof cfg.axis === 'number' ? cfg.axis : Array.isArray(cfg.axis) && cfg.axis.length === 1 ? Number(cfg.axis[0]) : -1;
    if (axis === -1 || axis === rank - 1) return { activation: 'softmax', what, layer };
  }
  return { activation: 'other', what, layer };
}

/** Samples the model is run on when its last layer does not settle the kind. */
const PROBE_SAMPLES = 64;

/**
 * decideOutputKind for a tfjs model. When the last layer does not decide, the model runs on the first
 * few samples of `probe` and their rows do.
 */
export function layersOutputKind(tf: Tf, model: tfjs.LayersModel, probe?: Dataset): OutputKindDecision {
  const final = layersFinalOp(model);
  if (final.activation !== 'other' || !probe || probe.n === 0) return decideOutputKind(final);
  const n = Math.min(PROBE_SAMPLES, probe.n);
  const size = probe.sampleShape.reduce((a, b) => a * b, 1);
  const values = tf.tidy(() => {
    const x = tf.tensor(probe.x.subarray(0, n * size), [n, ...probe.sampleShape], 'float32');
    const y = model.predict(x);
    return (Array.isArray(y) ? y[0]! : y).dataSync() as Float32Array;
  });
  return decideOutputKind(final, { values, width: values.length / n });
}

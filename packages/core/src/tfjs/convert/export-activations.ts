import { attr } from '../../onnx/builder.js';
import { ShrinkError } from '../../errors.js';
import { onnxAxis, type OnnxEmitter, type OnnxValue } from './onnx-emitter.js';

type Emit = (em: OnnxEmitter, x: OnnxValue) => string;

const scalar = (em: OnnxEmitter, what: string, v: number): string => em.weight(what, [], Float32Array.of(v));

/** tfjs activation identifiers (as `getConfig()` serialises them) and the ONNX ops computing them. */
const ACTIVATIONS: ReadonlyMap<string, Emit> = new Map<string, Emit>([
  ['relu', (em, x) => em.op('Relu', [x.name])],
  ['relu6', (em, x) => em.op('Clip', [x.name, scalar(em, 'min', 0), scalar(em, 'max', 6)])],
  ['sigmoid', (em, x) => em.op('Sigmoid', [x.name])],
  // tfjs hardSigmoid is clip(0.2 x + 0.5, 0, 1), which is ONNX HardSigmoid's default form made explicit.
  ['hardSigmoid', (em, x) => em.op('HardSigmoid', [x.name], { alpha: attr.float(0.2), beta: attr.float(0.5) })],
  ['tanh', (em, x) => em.op('Tanh', [x.name])],
  ['elu', (em, x) => em.op('Elu', [x.name], { alpha: attr.float(1) })],
  // ONNX Selu's default alpha/gamma are the constants tf.selu uses.
  ['selu', (em, x) => em.op('Selu', [x.name])],
  ['softplus', (em, x) => em.op('Softplus', [x.name])],
  ['softsign', (em, x) => em.op('Softsign', [x.name])],
  // tfjs normalises the last (channel) axis, wherever the current layout keeps it.
  ['softmax', (em, x) => em.op('Softmax', [x.name], { axis: onnxAxis(x, -1) })],
  ['logSoftmax', (em, x) => em.op('LogSoftmax', [x.name], { axis: onnxAxis(x, -1) })],
  ['swish', (em, x) => em.op('Mul', [x.name, em.op('Sigmoid', [x.name])])],
  ['mish', (em, x) => em.op('Mul', [x.name, em.op('Tanh', [em.op('Softplus', [x.name])])])],
  // Erf form of GELU, as tfjs computes it; the Gelu op only exists from opset 20.
  [
    'gelu',
    (em, x) => {
      const erf = em.op('Erf', [em.op('Div', [x.name, scalar(em, 'sqrt2', Math.SQRT2)])]);
      const half = em.op('Mul', [x.name, scalar(em, 'half', 0.5)]);
      return em.op('Mul', [half, em.op('Add', [erf, scalar(em, 'one', 1)])]);
    },
  ],
]);

export const EXPORTABLE_ACTIVATIONS: readonly string[] = ['linear', ...ACTIVATIONS.keys()];

/** Applies a tfjs activation to `x`, keeping its layout. */
export function emitActivation(em: OnnxEmitter, x: OnnxValue, activation: string, layer: string): OnnxValue {
  if (activation === 'linear') return x;
  const emit = ACTIVATIONS.get(activation);
  if (!emit) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `layer '${layer}' uses activation '${activation}', which has no ONNX export; supported: ${EXPORTABLE_ACTIVATIONS.join(', ')}`,
    );
  }
  return { ...x, name: emit(em, x) };
}

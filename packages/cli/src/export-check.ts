import type * as tfjs from '@tensorflow/tfjs';
import { createRng } from '@shrink/core/data';
import { createSession, tensorToFloat32 } from '@shrink/core/runtime';
import type { onnx } from '@shrink/core';

/**
 * Largest |tfjs - onnxruntime| over the outputs of `n` seeded random inputs: the exported model must
 * compute what the trained one does (the bar is 1e-4).
 */
export async function exportMaxAbsDiff(
  tf: typeof tfjs,
  layers: tfjs.LayersModel,
  model: onnx.IModelProto,
  n = 32,
  seed = 0,
): Promise<number> {
  const sample = layers.inputs[0]!.shape.slice(1) as number[];
  const per = sample.reduce((a, b) => a * b, 1);
  const rng = createRng(seed);
  const x = new Float32Array(n * per);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const expected = tf.tidy(() => (layers.predict(tf.tensor(x, [n, ...sample])) as tfjs.Tensor).dataSync() as Float32Array);
  const session = await createSession(model, { label: 'exported model' });
  try {
    const out = await session.run({ [session.inputNames[0]!]: { data: x, dims: [n, ...sample] } });
    const got = tensorToFloat32(out[session.outputNames[0]!]!, 'exported output');
    let max = 0;
    for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - expected[i]!));
    return got.length === expected.length ? max : Infinity;
  } finally {
    await session.release();
  }
}

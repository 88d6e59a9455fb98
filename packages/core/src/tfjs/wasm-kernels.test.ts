import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as tfjs from '@tensorflow/tfjs';
import { initTf } from './backend.js';

test('wasm Conv2DBackpropFilter matches the cpu kernel (valid/same padding, strides 1 and 2)', async () => {
  const { tf } = await initTf(undefined, 'wasm');
  const cases = [
    { x: [2, 7, 6, 3], f: [3, 3, 3, 4], strides: 1, pad: 'valid' as const },
    { x: [2, 7, 6, 3], f: [3, 2, 3, 4], strides: 2, pad: 'same' as const },
    { x: [1, 8, 9, 2], f: [2, 3, 2, 5], strides: [2, 3] as [number, number], pad: 'valid' as const },
  ];
  for (const c of cases) {
    const xv = tf.randomNormal(c.x, 0, 1, 'float32', 1).arraySync();
    const fv = tf.randomNormal(c.f, 0, 1, 'float32', 2).arraySync();
    const grad = async (backend: 'wasm' | 'cpu') => {
      await tf.setBackend(backend);
      const x = tf.tensor(xv) as tfjs.Tensor4D;
      const f = tf.tensor(fv) as tfjs.Tensor4D;
      const g = tf.grad((w) =>
        tf
          .conv2d(x, w as tfjs.Tensor4D, c.strides, c.pad)
          .square()
          .sum(),
      )(f);
      const out = g.dataSync().slice();
      tf.dispose([x, f, g]);
      return out;
    };
    const cpu = await grad('cpu');
    const wasm = await grad('wasm');
    assert.equal(wasm.length, cpu.length);
    let maxErr = 0;
    for (let i = 0; i < cpu.length; i++) maxErr = Math.max(maxErr, Math.abs(wasm[i]! - cpu[i]!) / (1 + Math.abs(cpu[i]!)));
    assert.ok(maxErr < 1e-4, `${JSON.stringify(c)}: relative error ${maxErr}`);
  }
  await tf.setBackend('wasm');
});

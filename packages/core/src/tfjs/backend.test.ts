import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initTf } from './backend.js';

test('initTf picks wasm here (tfjs-node is not installed), idempotently, and can switch to cpu', async () => {
  const a = await initTf();
  assert.equal(a.backend, 'wasm');
  assert.equal(a.tf.getBackend(), 'wasm');
  assert.match(a.note, /wasm backend \(tfjs-node not installed\)/);
  const b = await initTf();
  assert.equal(b.tf, a.tf);
  assert.equal(b.backend, 'wasm');
  const y = a.tf.tidy(() => a.tf.tensor1d([1, -2, 3]).relu().sum().dataSync()[0]);
  assert.equal(y, 4);
  const c = await initTf(undefined, 'cpu');
  assert.equal(c.backend, 'cpu');
  assert.equal(c.tf.getBackend(), 'cpu');
  const d = await initTf(undefined, 'wasm');
  assert.equal(d.backend, 'wasm');
});

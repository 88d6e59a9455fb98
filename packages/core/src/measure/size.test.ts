import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gzipSize, modelSizes } from './size.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { encodeModel } from '../onnx/codec.js';

test('gzipSize: zeros compress far below their size, random bytes do not', () => {
  const zeros = new Uint8Array(100_000);
  const z = gzipSize(zeros);
  assert.ok(z > 18 && z < 1_000, `gzip of 100 kB of zeros is ${z} bytes`);
  const noise = new Uint8Array(randomBytes(10_000));
  const n = gzipSize(noise);
  assert.ok(n >= 10_000, `gzip of 10 kB of noise is ${n} bytes; expected no gain`);
  // gzip framing: 10-byte header + 8-byte trailer around at least one byte of deflate data
  assert.ok(gzipSize(new Uint8Array(0)) >= 18);
});

test('modelSizes: bytes equal the encoding length and gzipBytes decompress back to it', () => {
  const w = new Float32Array(256).fill(0.5);
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'w'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', [1, 16])],
      outputs: [makeValueInfo('y', 'float32', [1, 16])],
      initializers: [makeTensor('w', 'float32', [16, 16], w)],
    }),
  );
  const encoded = encodeModel(model);
  const sizes = modelSizes(model);
  assert.equal(sizes.bytes, encoded.length);
  assert.ok(sizes.bytes > 1024, 'the 16x16 float initializer alone is 1024 bytes');
  assert.ok(sizes.gzipBytes < sizes.bytes, 'constant weights compress');
  assert.deepEqual(modelSizes(encoded), sizes);
  assert.ok(modelSizes(model, { level: 9 }).gzipBytes <= modelSizes(model, { level: 1 }).gzipBytes);
});

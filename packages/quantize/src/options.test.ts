import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions } from '@shrink/core';
import { quantizeOptionsSchema, OUTPUT_NAMES, DTYPES } from './options.js';

test('defaults: q8 mode auto (dynamic unless calibration data is given to a conv net), per-tensor, block 32, accuracy level 4', () => {
  const o = parseOptions(quantizeOptionsSchema, {});
  assert.equal(o.dtype, 'q8');
  assert.equal(o.mode, 'auto');
  assert.equal(o.perChannel, false);
  assert.equal(o.blockSize, 32);
  assert.equal(o.accuracyLevel, 4);
});

test('every dtype has a transformers.js output name', () => {
  for (const d of DTYPES) assert.match(OUTPUT_NAMES[d], /^model_\w+\.onnx$/);
});

test('bad options name the key and the valid values', () => {
  assert.throws(() => parseOptions(quantizeOptionsSchema, { dtype: 'int3' }, 'quantize'), /quantize\.dtype: must be one of "q8", "int8"/);
  assert.throws(() => parseOptions(quantizeOptionsSchema, { blockSize: 48 }, 'quantize'), /quantize\.blockSize/);
  assert.throws(() => parseOptions(quantizeOptionsSchema, { bogus: 1 }, 'quantize'), /unknown key bogus/);
});

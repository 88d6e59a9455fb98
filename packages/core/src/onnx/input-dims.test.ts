import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseInputDims, describeAssumed } from './input-dims.js';

test('token inputs share one batch and sequence value; every symbol chosen is named', () => {
  const r = chooseInputDims([
    { name: 'input_ids', type: 'int64', shape: ['batch_size', 'sequence_length'] },
    { name: 'attention_mask', type: 'int64', shape: ['batch_size', 'sequence_length'] },
    { name: 'token_type_ids', type: 'int64', shape: ['batch_size', 'sequence_length'] },
  ]);
  assert.deepEqual(r.dims, { input_ids: [1, 16], attention_mask: [1, 16], token_type_ids: [1, 16] });
  assert.deepEqual(r.assumed, { batch_size: 1, sequence_length: 16 });
  assert.equal(describeAssumed(r.assumed), 'batch_size=1, sequence_length=16');
});

test('past key/values: past dims get the past default and "past + sequence" sums its parts, whatever the input order', () => {
  const r = chooseInputDims([
    { name: 'attention_mask', type: 'int64', shape: ['batch', 'past_sequence_length + sequence_length'] },
    { name: 'past_key_values.0.key', type: 'float32', shape: ['batch', 4, 'past_sequence_length', 8] },
    { name: 'input_ids', type: 'int64', shape: ['batch', 'sequence_length'] },
  ]);
  assert.deepEqual(r.dims['attention_mask'], [1, 4 + 16]);
  assert.deepEqual(r.dims['past_key_values.0.key'], [1, 4, 4, 8]);
  assert.deepEqual(r.assumed, { batch: 1, past_sequence_length: 4, sequence_length: 16, 'past_sequence_length + sequence_length': 20 });
});

test('images: NCHW and NHWC spatial dims get the spatial default; unnamed dims are named input[axis]', () => {
  const r = chooseInputDims([{ name: 'x', type: 'float32', shape: [-1 as unknown as number, 3, 'h', undefined] }], { spatial: 320 });
  assert.deepEqual(r.dims['x'], [1, 3, 320, 320]);
  assert.deepEqual(r.assumed, { 'x[0]': 1, h: 320, 'x[3]': 320 });
  const nhwc = chooseInputDims([{ name: 'img', type: 'float32', shape: ['N', 'H', 'W', 3] }]);
  assert.deepEqual(nhwc.dims['img'], [1, 224, 224, 3]);
});

test('audio and state: a float [batch, N] input is a 512-sample waveform; fixed dims stay; symbols given by name win over every rule', () => {
  const inputs = [
    { name: 'input', type: 'float32', shape: ['batch', 'sequence'] },
    { name: 'h', type: 'float32', shape: [2, 'batch', 64] },
    { name: 'sr', type: 'int64', shape: [] },
  ];
  const r = chooseInputDims(inputs);
  assert.deepEqual(r.dims, { input: [1, 512], h: [2, 1, 64], sr: [] });
  const given = chooseInputDims(inputs, { symbols: { sequence: 1536 } });
  assert.deepEqual(given.dims['input'], [1, 1536]);
  // An unnamed axis of an int rank-2 input is a token axis; of anything else, 1.
  assert.deepEqual(chooseInputDims([{ name: 'ids', type: 'int32', shape: [1, undefined] }]).dims['ids'], [1, 16]);
  assert.deepEqual(chooseInputDims([{ name: 'f', type: 'float32', shape: [1, undefined, 'other'] }]).dims['f'], [1, 1, 1]);
});

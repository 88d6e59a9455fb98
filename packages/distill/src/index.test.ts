import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions, ShrinkError } from '@shrink/core';
import { distillOptionsSchema, formatStudentSpec, parseStudentSpec } from './index.js';

test('student specs: layer sizes parse to MLP and conv students and format back; other words are names', () => {
  assert.deepEqual(parseStudentSpec('784-64-10'), { kind: 'mlp', input: 784, hidden: [64], outputs: 10 });
  assert.deepEqual(parseStudentSpec(' 16-10 '), { kind: 'mlp', input: 16, hidden: [], outputs: 10 });
  assert.deepEqual(parseStudentSpec('c16-C32-64-10'), { kind: 'conv', filters: [16, 32], hidden: [64], outputs: 10 });
  assert.deepEqual(parseStudentSpec('digits-mlp'), { kind: 'name', name: 'digits-mlp' });
  assert.deepEqual(parseStudentSpec('./student.onnx'), { kind: 'name', name: './student.onnx' });
  for (const spec of ['784-64-10', '16-10', 'c16-c32-64-10', 'digits-mlp']) assert.equal(formatStudentSpec(parseStudentSpec(spec)), spec);
});

test('student specs that look like sizes but are not are refused, naming the bad part', () => {
  const refused = (spec: string, re: RegExp) =>
    assert.throws(
      () => parseStudentSpec(spec),
      (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT' && re.test(e.message),
      spec,
    );
  refused('784-0-10', /"0" is not a layer size/);
  refused(`784-${2 ** 21}-10`, /"2097152" is not a layer size/);
  refused('784-c', /784-c.*not a layer spec/);
  refused('c16-c32', /c16-c32.*not a layer spec/);
});

test('distill options: defaults filled in, a student required, unknown keys refused', () => {
  const o = parseOptions(distillOptionsSchema, { student: '784-64-10' });
  assert.equal(o.temperature, 4);
  assert.equal(o.alpha, 0.7);
  assert.equal(o.teacherOutput, 'auto');
  assert.throws(() => parseOptions(distillOptionsSchema, {}), ShrinkError);
  assert.throws(() => parseOptions(distillOptionsSchema, { student: '16-10', temprature: 2 }), ShrinkError);
});

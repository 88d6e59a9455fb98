import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShrinkError, exitCodeFor, check } from './errors.js';

test('exit codes: gate failure is 1, everything else is 2', () => {
  assert.equal(exitCodeFor(new ShrinkError('GATE_FAILED', 'x')), 1);
  assert.equal(exitCodeFor(new ShrinkError('IO', 'x')), 2);
  assert.equal(exitCodeFor(new Error('plain')), 2);
});

test('check throws a ShrinkError with the given code', () => {
  assert.throws(
    () => check(false, 'INVALID_ARGUMENT', 'bad --batch'),
    (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT',
  );
  check(true, 'INVALID_ARGUMENT', 'unused');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packageName } from './index.js';
import { ShrinkError } from '@shrink/core';

test('@shrink/quantize resolves and sees @shrink/core', () => {
  assert.equal(packageName, '@shrink/quantize');
  assert.equal(new ShrinkError('IO', 'x').code, 'IO');
});

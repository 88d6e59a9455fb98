import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions } from '@shrink/core';
import { pruneOptionsSchema } from './options.js';

test('defaults: magnitude, 50 %, per layer, 2:4', () => {
  const o = parseOptions(pruneOptionsSchema, {});
  assert.deepEqual([o.method, o.sparsity, o.scope, o.n, o.m], ['magnitude', 0.5, 'layer', 2, 4]);
});

test('bad options name the key and what is valid', () => {
  assert.throws(() => parseOptions(pruneOptionsSchema, { sparsity: 1 }, 'prune'), /prune\.sparsity: must be < 1, got 1/);
  assert.throws(() => parseOptions(pruneOptionsSchema, { sparsity: -0.1 }, 'prune'), /prune\.sparsity: must be >= 0/);
  assert.throws(
    () => parseOptions(pruneOptionsSchema, { method: 'random' }, 'prune'),
    /prune\.method: must be one of "magnitude", "nm", "structured"/,
  );
});

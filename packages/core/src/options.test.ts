import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { parseOptions, optionsJsonSchema } from './options.js';
import { ShrinkError } from './errors.js';

const schema = z.strictObject({
  preset: z.enum(['digits-mlp', 'seed']),
  epochs: z.number().int().positive().default(3),
});

test('parseOptions applies defaults and returns typed data', () => {
  assert.deepEqual(parseOptions(schema, { preset: 'seed' }), { preset: 'seed', epochs: 3 });
});

test('parseOptions names the key and the valid choices', () => {
  assert.throws(
    () => parseOptions(schema, { preset: 'nope' }, 'train'),
    (e: unknown) =>
      e instanceof ShrinkError &&
      e.code === 'INVALID_ARGUMENT' &&
      e.message === 'train.preset: must be one of "digits-mlp", "seed", got "nope"',
  );
  assert.throws(() => parseOptions(schema, { preset: 'seed', epochs: 0 }, 'train'), /train\.epochs: must be > 0, got 0/);
  assert.throws(
    () => parseOptions(schema, { preset: 'seed', bogus: 1 }, 'cfg', 'INVALID_CONFIG'),
    /cfg: unknown key bogus; valid keys: preset, epochs/,
  );
});

test('optionsJsonSchema exposes enum choices and defaults', () => {
  const js = optionsJsonSchema(schema) as { properties: Record<string, { enum?: string[]; default?: number }> };
  assert.deepEqual(js.properties['preset']?.enum, ['digits-mlp', 'seed']);
  assert.equal(js.properties['epochs']?.default, 3);
});

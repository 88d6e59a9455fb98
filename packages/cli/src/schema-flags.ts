import type { Argv, Options } from 'yargs';
import { optionsJsonSchema, parseOptions, type JsonSchemaProp as JsonProp, type OptionsSchema } from '@shrink/core';
import type { z } from 'zod';
import { flagName } from './flag-errors.js';

/**
 * Declares one yargs option per schema key, with type, choices and help text taken from the schema.
 * Defaults are shown in help but applied by the schema, so library and CLI share them.
 */
export function flagsFromSchema<T, S extends OptionsSchema, K extends keyof z.input<S> & string = never>(
  y: Argv<T>,
  schema: S,
  skip: readonly K[] = [],
): Argv<T & Partial<Omit<z.input<S>, K>>> {
  const props = (optionsJsonSchema(schema)['properties'] ?? {}) as Record<string, JsonProp>;
  let out: Argv<T> = y;
  for (const [key, prop] of Object.entries(props)) {
    if ((skip as readonly string[]).includes(key)) continue;
    out = out.option(flagName(key), toYargs(prop));
  }
  // yargs cannot see through a loop: the schema says what the flags hold (camelCase, as yargs aliases them).
  return out as Argv<T & Partial<Omit<z.input<S>, K>>>;
}

function toYargs(p: JsonProp): Options {
  const base = p.anyOf?.find((a) => a.type !== 'null') ?? p;
  const type = Array.isArray(base.type) ? base.type[0] : base.type;
  const o: Options = { describe: p.description ?? base.description ?? '' };
  if (base.enum) o.choices = base.enum as string[];
  if (type === 'boolean') o.type = 'boolean';
  else if (type === 'number' || type === 'integer') o.type = 'number';
  else if (type === 'array') o.type = base.items?.type === 'number' ? 'array' : 'string';
  else o.type = 'string';
  if (type === 'array') o.array = true;
  if (p.default !== undefined) o.defaultDescription = JSON.stringify(p.default);
  return o;
}

/** Picks the schema's keys out of parsed argv (yargs adds camelCase aliases) and validates them; errors carry the option, which the CLI names as its flag. */
export function optionsFromArgv<S extends OptionsSchema>(schema: S, argv: Record<string, unknown>, where: string): z.output<S> {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = argv[key];
    if (v !== undefined) picked[key] = v;
  }
  return parseOptions(schema, picked, where);
}

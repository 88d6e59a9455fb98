import { z } from 'zod';
import { ShrinkError, type ShrinkErrorCode } from './errors.js';

/**
 * Every pass and command declares its options once as a zod object schema. The same schema
 * validates library calls, drives the CLI's flags and help text, and (later) the config file's schema,
 * so the three can never disagree.
 */
export type OptionsSchema = z.ZodObject<z.ZodRawShape>;

/**
 * Validates `input` against `schema`; the first problem becomes one ShrinkError line naming the key
 * (as `where.key`) and what would be valid.
 */
export function parseOptions<S extends OptionsSchema>(
  schema: S,
  input: unknown,
  where = 'options',
  code: ShrinkErrorCode = 'INVALID_ARGUMENT',
  formatKey: (where: string, path: readonly PropertyKey[]) => string = (w, p) => `${w}${formatPath(p)}`,
): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const given = issue.code === 'unrecognized_keys' ? undefined : valueAt(input, issue.path);
  const got = given === undefined ? '' : `, got ${JSON.stringify(given)}`;
  const key = issue.path[0];
  throw new ShrinkError(code, `${describeIssue(issue, schema)}${got}`, {
    subject: formatKey(where, issue.path),
    ...(typeof key === 'string' && issue.path.length === 1 ? { option: key } : {}),
  });
}

/** The offending value, so the message can show what was given next to what is valid. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

/** The object schema at `path` (through arrays, optionals, nullables, defaults), so a nested unknown key lists its own siblings. */
function objectAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodObject | undefined {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s !== undefined;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
    else if (i === path.length) return s instanceof z.ZodObject ? s : undefined;
    else if (s instanceof z.ZodObject) s = s.shape[String(path[i++])] as z.ZodType | undefined;
    else if (s instanceof z.ZodArray) {
      s = s.element as z.ZodType;
      i++;
    } else return undefined;
  }
  return undefined;
}

function describeIssue(issue: z.core.$ZodIssue, schema: OptionsSchema): string {
  switch (issue.code) {
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}; valid keys: ${Object.keys(objectAt(schema, issue.path)?.shape ?? {}).join(', ')}`;
    case 'too_small':
      return `must be ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      return `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    case 'invalid_type':
      return `expected ${issue.expected}`;
    default:
      return issue.message;
  }
}

/** One property of optionsJsonSchema's output, as the CLI's flags and the browser's forms read it. */
export interface JsonSchemaProp {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  anyOf?: JsonSchemaProp[];
  items?: JsonSchemaProp;
}

/** JSON Schema of an options schema (drives CLI flags and config-file validation). */
export function optionsJsonSchema(schema: OptionsSchema): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input' });
}

/**
 * What travels on the queue, and nothing else: a trial as data (the registry's steps with options the
 * passes' own zod schemas accept, content hashes of the model and data), and its result. A worker parses
 * every job with `trialJobSchema` before anything runs and refuses what does not parse; no code, no
 * module name and no file path ever comes from the queue (files come from the artifact store, by hash).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { targetSchema } from '@shrink/core';
import { stepSchema, type Step } from '../pipeline/config-schema.js';
import { sha256 } from './artifact-store.js';

/** Bumped when the job or result format changes: a worker refuses jobs of another protocol. */
export const PROTOCOL = 1;

/**
 * Part of every result key: a worker running other code would compute other numbers, so its results
 * must not be taken for these. The package version, plus SHRINK_CODE_VERSION when a deployment sets it
 * (e.g. a git commit), since unreleased commits share a version.
 */
export function codeVersion(): string {
  let version = '0.0.0';
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name?: string; version?: string };
    if (pkg.name === '@shrink/cli' && pkg.version) version = pkg.version;
  } catch {
    // The bundled CLI has no package.json beside it: the version alone is then unknown.
  }
  const extra = process.env['SHRINK_CODE_VERSION'];
  return `shrink-cli@${version}+queue${PROTOCOL}${extra ? `+${extra}` : ''}`;
}

const hash = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest');
/** File names inside a tree: relative, no NUL; resolveInside checks them again where they are used. */
const relFile = z
  .string()
  .min(1)
  .max(400)
  .refine(
    (p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\0') && !p.includes('\\'),
    'a relative path inside its tree',
  );

export const treeRefSchema = z.strictObject({ tree: hash, file: relFile.optional() });
/** A dataset: a preset by name (each machine has its own copy), or a file or folder from the store. */
export const dataRefSchema = z.union([z.strictObject({ preset: z.string().regex(/^[a-z][a-z-]*(:\d{1,9})?$/) }), treeRefSchema]);
export type DataRef = z.output<typeof dataRefSchema>;
export type TreeRef = z.output<typeof treeRefSchema>;

export const trialJobSchema = z.strictObject({
  protocol: z.literal(PROTOCOL),
  code: z.string().min(1).max(200),
  /** The search's queue name, for logs. */
  search: z.string().regex(/^[a-z0-9-]{1,120}$/),
  resultKey: hash,
  name: z.string().regex(/^[\w.+%,=:@-]{1,200}$/, 'a trial name'),
  steps: z.array(stepSchema).min(1).max(32),
  model: z.strictObject({ tree: hash, file: relFile }),
  data: z.strictObject({ eval: dataRefSchema.optional(), calibration: dataRefSchema.optional(), train: dataRefSchema.optional() }),
  measure: z.strictObject({
    batch: z.number().int().positive().max(65_536),
    evalBatch: z.number().int().positive().max(65_536),
    target: targetSchema,
    gridIntensity: z.number().min(0).optional(),
  }),
});
export type TrialJobData = z.output<typeof trialJobSchema>;

const metricSchema = z.looseObject({});
export const trialResultSchema = z.strictObject({
  protocol: z.literal(PROTOCOL),
  resultKey: hash,
  name: z.string(),
  seconds: z.number().min(0),
  error: z.string().max(4000).optional(),
  model: z.strictObject({ tree: hash, file: relFile }).optional(),
  diskBytes: z.number().int().min(0).optional(),
  metrics: z.record(z.string(), metricSchema).optional(),
  steps: z.array(z.looseObject({ kind: z.string(), notes: z.array(z.string()) })).optional(),
  layers: z.array(z.looseObject({ name: z.string() })).optional(),
  kernels: z.array(z.looseObject({})).optional(),
  /** Prefix keys this trial computed and stored. */
  computed: z.array(hash).optional(),
  worker: z.string().max(300),
  /** Worker clock (ms since the epoch): when the trial started and ended there. */
  startedAt: z.number(),
  finishedAt: z.number(),
});
export type TrialResult = z.output<typeof trialResultSchema>;

/** The first issue of a failed parse, in one short line (never the data itself). */
export function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  return i ? `${i.path.length ? i.path.join('.') : '(job)'}: ${i.message}`.slice(0, 300) : 'invalid';
}

/** A step in the config's one-key form, as the job carries it. */
export function stepToData(s: Step): Record<string, Record<string, unknown>> {
  return { [s.kind]: s.options };
}

/** JSON with every object's keys sorted: the same trial hashes alike whatever order its options were written in. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

interface KeyParts {
  code: string;
  model: { tree: string; file: string };
  data: TrialJobData['data'];
}

/** The result key: the hash of (code version, model, data, steps, how it is measured). Also the BullMQ job id. */
export function resultKeyOf(parts: KeyParts & { steps: readonly Step[]; measure: TrialJobData['measure'] }): string {
  return sha256(canonicalJson(['result', parts.code, parts.model, parts.data, parts.steps.map(stepToData), parts.measure]));
}

/** Key of the model after the first n steps: shared by every trial with the same prefix, on every worker. */
export function prefixHashOf(parts: KeyParts, steps: readonly Step[], n: number): string {
  return sha256(canonicalJson(['prefix', parts.code, parts.model, parts.data, steps.slice(0, n).map(stepToData)]));
}

/** The queue of a search: its config file's name and a hash of what it searches, so a restart finds it again. */
export function queueNameOf(configFile: string, configHash: string): string {
  const base = configFile
    .replace(/^.*[\\/]/, '')
    .replace(/\.[^.]*$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `shrink-${base || 'search'}-${configHash.slice(0, 12)}`;
}

/** Redis set of the searches under way: workers watch it to know which queues to take trials from. */
export const SEARCHES_KEY = 'shrink:searches';
export const SEARCHES_CHANNEL = 'shrink:searches:changed';

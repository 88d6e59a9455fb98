/**
 * How models are measured, declared once: the run flags of every command that measures (--batch,
 * --threads, --runs, --warmup, --grid-intensity) and the `evaluation:` block of a pipeline config both
 * come from this schema, with its defaults and bounds.
 */
import { z } from 'zod';
import { parseOptions } from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import type { ProfileOptions } from '@shrink/core/runtime';

export const measureOptionsSchema = z.strictObject({
  batch: z.number().int().positive().default(1).describe('Samples per latency run'),
  threads: z.number().int().positive().optional().describe('onnxruntime intra-op threads (default: one per physical core)'),
  runs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'Timed latency runs (pairs, baseline and candidate interleaved, when comparing); default: up to 50 within a 10 s budget per model',
    ),
  warmup: z.number().int().min(0).default(5).describe('Untimed runs before timing'),
  gridIntensity: z.number().min(0).optional().describe('g CO2e per kWh for the CO2e figures (default 475, the world average)'),
});

export type MeasureOptions = z.output<typeof measureOptionsSchema>;

/** Timed runs when --runs is not given, and the time they may take per model. */
export const DEFAULT_RUNS = 50;
export const LATENCY_BUDGET_MS = 10_000;

/** The measurement flags of parsed argv, validated by the schema (errors name the flag). */
export function measureFromArgv(argv: Record<string, unknown>, skip: ReadonlyArray<keyof MeasureOptions> = []): MeasureOptions {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(measureOptionsSchema.shape)) {
    if (!skip.includes(key as keyof MeasureOptions) && argv[key] !== undefined) picked[key] = argv[key];
  }
  return parseOptions(measureOptionsSchema, picked, 'measure');
}

/** Measurement settings as core's profile/compare functions take them. */
export function profileOptionsFrom(m: MeasureOptions, data: Dataset | undefined, extra: Partial<ProfileOptions> = {}): ProfileOptions {
  return {
    batch: m.batch,
    // Without --runs, timing stops at a budget: a model whose single run takes seconds is timed a few times.
    ...(m.runs !== undefined ? { runs: m.runs } : { runs: DEFAULT_RUNS, maxTimeMs: LATENCY_BUDGET_MS }),
    warmup: m.warmup,
    ...(m.threads !== undefined ? { threads: m.threads } : {}),
    ...(m.gridIntensity !== undefined ? { gridIntensity: m.gridIntensity } : {}),
    ...(data ? { data } : {}),
    ...extra,
  };
}

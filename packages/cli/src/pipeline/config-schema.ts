/**
 * The pipeline config (`shrink run`, `shrink search`): one zod schema composed from the registered passes'
 * schemas, so a step in a config accepts exactly what the pass's command accepts as flags.
 */
import { z } from 'zod';
import { DEFAULT_FLOORS, targetSchema, type OptionsSchema } from '@shrink/core';
import { PASSES, PASS_KINDS } from '../registry.js';

/**
 * A step is a one-key map {kind: options}, one optional key per registered pass, and a check: errors
 * name the pass's own keys, and a new pass needs no edit here.
 */
export const stepSchema = z
  .strictObject(Object.fromEntries(PASSES.map((p) => [p.kind, p.schema.optional()])) as Record<string, z.ZodOptional<OptionsSchema>>)
  .refine((s) => Object.keys(s).length === 1, { error: `must have exactly one key, one of ${PASS_KINDS.join(', ')}` })
  .meta({ minProperties: 1, maxProperties: 1 });

export type StepInput = z.input<typeof stepSchema>;
/** A step as the runner sees it: the pass's kind and its options, parsed by that pass's schema. */
export interface Step {
  kind: string;
  options: Record<string, unknown>;
}

const dataSpec = z.string().min(1);

export const dataSchema = z.strictObject({
  eval: dataSpec
    .optional()
    .describe('Evaluation data (accuracy, fidelity, latency feeds): anything --data accepts; presets and IDX folders use their test part'),
  calibration: dataSpec
    .optional()
    .describe('Calibration data for static quantization (its train part); default: data.train, else data.eval'),
  train: dataSpec.optional().describe('Training data for fine-tuning and distillation (its train/test parts)'),
});

/** Calibration data for static quantization: the step's own calibData, else data.calibration, data.train, data.eval. */
export function calibrationSpecOf(data: z.output<typeof dataSchema>, step?: string): string | undefined {
  return step ?? data.calibration ?? data.train ?? data.eval;
}

export const evaluationSchema = z.strictObject({
  batch: z.number().int().positive().default(1).describe('Samples per latency run'),
  evalBatch: z.number().int().positive().default(64).describe('Samples per accuracy/fidelity run'),
  threads: z.number().int().positive().optional().describe('onnxruntime intra-op threads (default: one per physical core)'),
  runs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Timed latency pairs (baseline and candidate interleaved); default: up to 50 within a 10 s budget per model'),
  warmup: z.number().int().min(0).default(5).describe('Untimed runs before timing'),
  gridIntensity: z.number().min(0).optional().describe('g CO2e per kWh for the CO2e figures (default 475, the world average)'),
  region: z
    .string()
    .optional()
    .describe('Region code for the grid intensity instead of a number, e.g. FR, DE, US, WORLD (see docs/pipelines.md)'),
  floors: z
    .strictObject({
      minCosine: z
        .number()
        .min(-1)
        .max(1)
        .default(DEFAULT_FLOORS.minCosine)
        .describe('Cosine similarity of the outputs to the baseline below which a model fails'),
      minTop1Agreement: z
        .number()
        .min(0)
        .max(1)
        .default(DEFAULT_FLOORS.minTop1Agreement)
        .describe('Top-1 agreement with the baseline (classification) below which a model fails'),
      maxAccuracyDrop: z
        .number()
        .min(0)
        .max(1)
        .default(DEFAULT_FLOORS.maxAccuracyDrop)
        .describe('Accuracy a model may lose against the baseline (0.1 = 10 points)'),
      maxPerplexityIncrease: z
        .number()
        .min(0)
        .default(DEFAULT_FLOORS.maxPerplexityIncrease!)
        .describe(
          'Language models (evaluation.lm): relative perplexity increase over the baseline above which a model fails (1 = doubled)',
        ),
    })
    .optional()
    .describe('The fidelity guard: a step or trial whose model falls below these is a failure, not a candidate (defaults 0.9, 0.5, 0.1)'),
  lm: z
    .strictObject({
      tokens: z
        .string()
        .min(1)
        .optional()
        .describe('A tokens file {"input_ids": [[id, ...], ...]} (optionally attention_mask), relative to this file'),
      text: z.string().min(1).optional().describe('A text file tokenized with `tokenizer`, relative to this file'),
      tokenizer: z.string().min(1).optional().describe('A Hugging Face tokenizer.json for `text`, relative to this file'),
      context: z.number().int().min(2).optional().describe("Tokens per window (default: the model's fixed sequence length, else 128)"),
      stride: z
        .number()
        .int()
        .positive()
        .optional()
        .describe('Tokens between window starts (default context / 2); each token is scored once'),
      maxWindows: z.number().int().positive().optional().describe('Score only the first N windows'),
      maxSeconds: z.number().positive().optional().describe('Start no new window after this many seconds'),
    })
    .optional()
    .describe(
      'Language-model evaluation: perplexity of baseline and candidate, next-token KL and top-1 agreement (lm.* metrics) on these tokens',
    ),
  allowDegraded: z
    .boolean()
    .default(false)
    .describe('Keep a model that fails the fidelity guard (reported as FAILED) instead of failing the run'),
});

export const OBJECTIVES = ['size', 'latency'] as const;

export const searchSchema = z.strictObject({
  objective: z
    .enum(OBJECTIVES)
    .default('size')
    .describe('Best trial: the smallest (size.bytes) or fastest (latency.p50) passing every gate'),
  workers: z.number().int().positive().optional().describe('Trials run in parallel worker threads (default min(2, cores))'),
  space: z
    .strictObject(
      Object.fromEntries(
        PASSES.map((p) => [
          p.kind,
          z.array(p.schema.nullable()).min(1).optional().describe(`${p.kind} variants; null = no ${p.kind} step`),
        ]),
      ) as Record<string, z.ZodOptional<z.ZodArray<z.ZodNullable<OptionsSchema>>>>,
    )
    .optional()
    .describe(`Variants per pass; the trials are every combination, applied ${PASS_KINDS.join(' -> ')} (default: a built-in space)`),
  remeasure: z
    .boolean()
    .default(true)
    .describe('Measure the latency of the trials again in the main thread, interleaved with the baseline, after the parallel trials'),
  queue: z
    .union([
      z.string().min(1),
      z.strictObject({
        url: z.string().min(1).describe('redis://[user:password@]host[:port][/db], or rediss:// for TLS'),
        store: z
          .string()
          .min(1)
          .optional()
          .describe(
            'Artifact store the workers share: a folder, or s3://bucket/prefix (default $SHRINK_STORE, else ~/.cache/shrink/queue-store)',
          ),
        timeBudget: z.number().positive().optional().describe('Seconds after which trials without a result are reported as failed'),
        redisTimeout: z
          .number()
          .positive()
          .default(30)
          .describe('Seconds Redis may be unreachable mid-search before the search ends with an error naming what was lost'),
      }),
    ])
    .optional()
    .describe(
      'Run the trials on `shrink worker` processes through a BullMQ queue on Redis instead of worker threads (docs/distributed.md): a URL, or {url, store, timeBudget, redisTimeout}',
    ),
});

export const configSchema = z.strictObject({
  $schema: z.string().optional().describe('JSON Schema of this file, for editors'),
  model: z.string().min(1).describe('Input model: .onnx file or tfjs model folder, relative to this file'),
  data: dataSchema.default({}),
  steps: z.array(stepSchema).optional().describe('Passes in order, each a one-key map {quantize|prune|distill: options}'),
  evaluation: evaluationSchema.default({ batch: 1, evalBatch: 64, warmup: 5, allowDegraded: false }),
  gates: z
    .array(z.string().min(1))
    .default([])
    .describe('Expressions over metrics that must all hold, e.g. "accuracy.delta >= -0.01", "size.ratio <= 0.3"'),
  output: z.string().min(1).default('shrink-out').describe('Output folder for the models and reports, relative to this file'),
  search: searchSchema.optional().describe('Accuracy-aware search instead of (or besides) the fixed steps'),
  target: targetSchema
    .default('cpu')
    .describe(
      "Where the model will run: cpu (this machine, the default), a cpu-* ISA, cpu-portable, wasm or webgpu. Every step's output is checked against that runtime's op table, the passes' speed guard runs there, and the models are measured in it where this machine has it (wasm: onnxruntime-web)",
    ),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type Evaluation = z.output<typeof evaluationSchema>;
export type SearchSettings = z.output<typeof searchSchema>;

/** The step of a parsed one-key map as a tagged value. */
export function stepOf(s: z.output<typeof stepSchema>): Step {
  const [kind, options] = Object.entries(s)[0] ?? [];
  if (kind === undefined || options === undefined) throw new Error('unreachable: the schema checks that a step has one key');
  return { kind, options: options };
}

/** JSON Schema of the config file (`shrink run --print-schema`, docs/config.schema.json). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'Shrink pipeline config' };
}

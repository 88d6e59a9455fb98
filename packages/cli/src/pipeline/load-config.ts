/**
 * Reads and validates a pipeline config completely before anything runs: the schema (unknown keys, types,
 * choices, with their path), the gates (parsed and checked), and the combinations the passes would only
 * refuse later (static quantization without calibration data, fine-tuning without training data).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { isShrinkError, parseOptions, ShrinkError, type TargetName } from '@shrink/core';
import { fsError } from '@shrink/core/io';
import { configSchema, stepOf, type Evaluation, type ParsedConfig, type SearchSettings, type Step } from './config-schema.js';
import { PASS_KINDS, passOf } from '../registry.js';
import { compileGates, quoteGate, type CompiledGate } from './gates.js';
import { gridIntensityOf } from './grid-intensity.js';
import { availabilityOf, expandTrials } from './search-space.js';

export interface PipelineData {
  eval?: string;
  calibration?: string;
  train?: string;
  /** Base folder of relative data paths: the config file's folder. */
  cwd: string;
}

export interface PipelineConfig {
  /** The config file (absolute), or '<inline>'. */
  file: string;
  /** Absolute path of the input model. */
  model: string;
  data: PipelineData;
  steps: Step[];
  evaluation: Evaluation;
  /** g CO2e/kWh from evaluation.gridIntensity or .region, and where it came from. */
  grid: { value?: number; source?: string };
  gates: CompiledGate[];
  /** Absolute output folder. */
  output: string;
  search?: SearchSettings;
  /** Where the model will run (`target:`, default cpu): plain data, so search workers get it as is. */
  target: TargetName;
  /** The config as parsed (defaults applied), for the report. */
  parsed: ParsedConfig;
}

function pathOf(p: readonly PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('');
}

/** Text of a config file as a plain value: YAML (a superset of JSON) unless the name ends in .json. */
export function parseConfigText(text: string, file: string): unknown {
  if (file.toLowerCase().endsWith('.json')) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ShrinkError('INVALID_CONFIG', `${file}: not valid JSON (${(e as Error).message})`);
    }
  }
  try {
    const doc = parseDocument(text, { uniqueKeys: true });
    const err = doc.errors[0];
    if (err) {
      const at = err.linePos?.[0];
      throw new ShrinkError(
        'INVALID_CONFIG',
        `${file}${at ? `:${at.line}:${at.col}` : ''}: not valid YAML (${err.message.split('\n')[0]})`,
      );
    }
    // toJS expands aliases: the yaml library refuses an alias bomb here, with no file in its message.
    return doc.toJS();
  } catch (e) {
    if (isShrinkError(e)) throw e;
    throw new ShrinkError('INVALID_CONFIG', `${file}: not valid YAML (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`);
  }
}

export async function loadConfig(file: string, overrides: { output?: string; search?: boolean } = {}): Promise<PipelineConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    throw fsError(e, 'read config', abs);
  }
  return validateConfig(parseConfigText(text, file), { file, dir: path.dirname(abs), ...overrides });
}

/**
 * Validates a config value; `dir` is where its relative paths start (the config file's folder), `file`
 * names it in errors. `output` (relative to the current folder) replaces the config's output folder.
 * `search` (`shrink search`) reads a config without a search block as `search: {}`: the built-in space.
 */
export async function validateConfig(
  raw: unknown,
  where: { file: string; dir: string; output?: string; search?: boolean },
): Promise<PipelineConfig> {
  const w = `${where.file}: `;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ShrinkError(
      'INVALID_CONFIG',
      `${where.file}: expected a mapping with model, data, steps, evaluation, gates, output; got ${Array.isArray(raw) ? 'a list' : JSON.stringify(raw)}`,
    );
  }
  if ((raw as Record<string, unknown>)['model'] === undefined) {
    throw new ShrinkError('INVALID_CONFIG', `${w}model: required (the input .onnx file or tfjs model folder, relative to the config file)`);
  }
  const input = where.search === true && (raw as Record<string, unknown>)['search'] === undefined ? { ...raw, search: {} } : raw;
  const parsed = parseOptions(configSchema, input, where.file, 'INVALID_CONFIG', (_, p) => `${w}${p.length ? pathOf(p) : '(top level)'}`);
  const steps = (parsed.steps ?? []).map(stepOf);
  if (steps.length === 0 && !parsed.search) {
    throw new ShrinkError('INVALID_CONFIG', `${w}steps: give at least one step ({${PASS_KINDS.join('|')}: options}) or a search block`);
  }
  const data = parsed.data;
  for (const [i, s] of steps.entries()) s.options = await checkStep(s, data, where.dir, `${w}steps[${i}].${s.kind}`);
  const space = parsed.search?.space ?? {};
  for (const [kind, variants] of Object.entries(space)) {
    for (const [i, v] of (variants ?? []).entries()) {
      if (v !== null && v !== undefined)
        variants![i] = await checkStep({ kind, options: v }, data, where.dir, `${w}search.space.${kind}[${i}]`);
    }
  }
  if (parsed.search && expandTrials({ data: { ...data, cwd: where.dir }, steps, search: parsed.search }).length === 0) {
    throw new ShrinkError(
      'INVALID_CONFIG',
      `${w}search.space: every variant is null, so there is no trial; list at least one pass's options`,
    );
  }
  const grid = gridIntensityOf(parsed.evaluation, w);
  const gates = await compileGates(parsed.gates, w);
  // Quality metrics exist only with evaluation data: a gate on them could never pass without it.
  for (const [i, g] of gates.entries()) {
    const quality = g.names.find((n) => /^(accuracy|mse|mae)\./.test(n));
    if (quality !== undefined && !data.eval)
      throw new ShrinkError('INVALID_CONFIG', `${w}gates[${i}] ${quoteGate(g.expression)}: reads ${quality}, which needs data.eval`);
  }
  const model = path.resolve(where.dir, parsed.model);
  const output = where.output !== undefined ? path.resolve(where.output) : path.resolve(where.dir, parsed.output);
  checkOutput(output, model, data, where.dir, where.output !== undefined ? '--output' : `${w}output`);
  return {
    file: path.resolve(where.dir, path.basename(where.file)),
    model,
    data: { ...data, cwd: where.dir },
    steps,
    evaluation: parsed.evaluation,
    grid,
    gates,
    output,
    ...(parsed.search ? { search: parsed.search } : {}),
    target: parsed.target,
    parsed,
  };
}

const inside = (parent: string, child: string): boolean => {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/**
 * The output folder must not be the model's folder (or the model itself, or inside a tfjs model folder),
 * nor hold the data files: the run writes models and reports there, and the input is what cannot be recreated.
 */
function checkOutput(output: string, model: string, data: ParsedConfig['data'], dir: string, where: string): void {
  const folderModel = !/\.(onnx|json)$/i.test(model);
  const modelDir = folderModel ? model : path.dirname(model);
  if (output === modelDir || output === model || (folderModel && inside(model, output))) {
    throw new ShrinkError(
      'INVALID_CONFIG',
      `${where}: ${output} is ${folderModel ? 'the model folder or inside it' : output === model ? 'the model file' : "the model's folder"}; the run writes models and reports there, so choose another folder (e.g. shrink-out)`,
    );
  }
  for (const key of ['eval', 'train', 'calibration'] as const) {
    const spec = data[key];
    // Built-in sets (digits, random:N) are names, not files.
    if (spec === undefined || spec.includes(':') || !/[./\\]/.test(spec)) continue;
    const file = path.resolve(dir, spec);
    if (inside(output, file))
      throw new ShrinkError(
        'INVALID_CONFIG',
        `${where}: ${output} holds data.${key} (${spec}); the run writes models and reports there, so choose another folder`,
      );
  }
}

/**
 * What a pass would refuse only after the steps before it ran for minutes (cross-field rules, data the
 * run lacks), and its file options made absolute against the config folder; errors name the config key.
 */
async function checkStep(s: Step, data: ParsedConfig['data'], dir: string, where: string): Promise<Step['options']> {
  const pass = passOf(s.kind);
  const named = (e: unknown) => {
    if (!isShrinkError(e)) return e;
    const set = e.missing === undefined ? '' : ` (set data.${e.missing}${e.missing === 'calibration' ? ', data.train or data.eval' : ''})`;
    return new ShrinkError('INVALID_CONFIG', `${e.detail}${set}`, {
      cause: e,
      subject: e.option !== undefined ? `${where}.${e.option}` : where,
    });
  };
  try {
    pass.check?.(s.options, availabilityOf(data));
    return pass.prepare ? await pass.prepare(s.options, { cwd: dir, where }) : s.options;
  } catch (e) {
    throw named(e);
  }
}

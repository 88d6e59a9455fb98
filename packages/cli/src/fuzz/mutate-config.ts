/**
 * Pipeline configs for `shrink run` / `shrink search`, shaped like examples/shrink.config.yaml but
 * pointing at the case folder's corpus files, and their mutations: keys, types, values, YAML syntax,
 * gate expressions (hostile ones included) and paths (`..`, absolute, missing). Most die at validation;
 * the few that survive run only cheap steps (q8, magnitude pruning of the tiny MLP, a 12-row data file).
 */
import { stringify } from 'yaml';
import type { Rng } from '@shrink/core/data';
import { pick } from './pick.js';

export interface ConfigMutation {
  name: string;
  text: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

// No large positive integers: a config asking for 2^31 latency runs or epochs is valid and would just
// run that long (the per-case budget would call it a hang). Infinity and huge non-integers stay.
const WRONG_VALUES: readonly Json[] = [null, 0, -1, 0.5, 1.5, -1e308, 'x', '', 'NaN', '1', true, false, [], {}, [[]], { a: 1 }];
/** `{dir}` is the case folder (replaced when the case is written); the config lives in `{dir}/p/`. */
const PATHS = [
  'model.onnx',
  '../model.onnx',
  '{dir}/p/model.onnx',
  '/etc/passwd',
  '../../../../etc/passwd',
  'missing.onnx',
  '.',
  'data.json',
  'sub/../model.onnx',
  '~/model.onnx',
];
const DATA = [
  'data.json',
  'data.csv',
  '../data.json',
  '{dir}/p/data.json',
  '/etc/passwd',
  'missing.json',
  '.',
  'model.onnx',
  'seed',
  'nope-preset',
  'random:1',
];
// Every output lands inside the case folder: a fuzz run must not write where a user would not have told it to.
const OUTPUTS = ['out', '../out2', '{dir}/abs-out', 'model.onnx', 'data.json', '', 'out/../out'];
/** Where run/search may write, relative to the case folder. */
// (`x`, `1`, `NaN`: the wrong-value mutator's strings are valid folder names.)
export const CONFIG_OUTPUTS = ['p/out', 'out2', 'abs-out', 'p/x', 'p/1', 'p/NaN'];
const GATES = [
  'size.ratio <= 1',
  'accuracy.delta >= -1',
  'size.ratio <= 0.0001',
  'latency.p50.ratio < 100',
  'size.ratio <=',
  '<= 1',
  'size.ratio <= NaN',
  'size.ratio <= 1e999',
  'no.such.metric > 0',
  'process.exit(3)',
  'constructor.constructor("return process")().exit(3) > 0',
  '__proto__.polluted >= 0',
  'size.ratio <= 1; require("fs").rmSync(".")',
  'size.ratio <= 1 && accuracy.delta >= -1',
  'size.ratio <= 1 || 1',
  '((((((((((size.ratio))))))))))) <= 1',
  `${'('.repeat(5000)}size.ratio${')'.repeat(5000)} <= 1`,
  'size.ratio'.repeat(1000),
  '`${process.exit(3)}`',
  'size.ratio <= 1\n- evil',
];
const KEYS = [
  'model',
  'data',
  'steps',
  'evaluation',
  'gates',
  'output',
  'search',
  'extra',
  '$schema',
  '__proto__',
  'constructor',
  'Model',
  '',
];

/** A config that would run: one or two cheap steps, one untimed latency run, gates that hold. */
export function baseConfig(rng: Rng, search: boolean): Obj {
  const steps = pick<Json[]>(rng, [
    [{ quantize: { dtype: 'q8' } }],
    [{ prune: { method: 'magnitude', sparsity: 0.5 } }],
    [{ prune: { method: 'magnitude', sparsity: 0.5 } }, { quantize: { dtype: 'q8', explain: false } }],
  ]);
  const c: Obj = {
    model: 'model.onnx',
    data: { eval: 'data.json' },
    evaluation: { runs: 1, warmup: 0, evalBatch: 16 },
    gates: ['size.ratio <= 1', 'accuracy.delta >= -1'],
    output: 'out',
  };
  if (search) c['search'] = { workers: 1, remeasure: false, space: { quantize: [{ dtype: 'q8' }, null] } };
  else c['steps'] = steps;
  return c;
}

/** Every [container, key] pair, depth first. */
function slots(v: Json, out: Array<[Json[] | Obj, string | number]> = []): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) (out.push([v, k]), slots(v[k]!, out));
  return out;
}

function set(c: Json[] | Obj, k: string | number, v: Json | undefined): void {
  if (Array.isArray(c)) {
    if (v === undefined) c.splice(k as number, 1);
    else c[k as number] = v;
  } else if (v === undefined) delete c[k as string];
  else c[k as string] = v;
}

type Mutator = (rng: Rng, c: Obj) => string;

const mutators: readonly Mutator[] = [
  function wrongValue(rng, c) {
    const [box, k] = pick(rng, slots(c));
    if (rng.next() < 0.3) {
      set(box, k, undefined);
      return `removed ${String(k)}`;
    }
    const v = pick(rng, WRONG_VALUES);
    set(box, k, v);
    return `${String(k)} -> ${JSON.stringify(v)}`;
  },
  function renameKey(rng, c) {
    const objs = slots(c).filter(([box]) => !Array.isArray(box));
    const [box, k] = pick(rng, objs) as [Obj, string];
    const to = pick(rng, [...KEYS, `${k}s`, k.toUpperCase(), 'dtype', 'method', 'quantise']);
    const v = box[k]!;
    delete box[k];
    box[to] = v;
    return `key ${k} -> ${to}`;
  },
  function modelPath(rng, c) {
    c['model'] = pick(rng, PATHS);
    return `model: ${String(c['model'])}`;
  },
  function dataPath(rng, c) {
    const key = pick(rng, ['eval', 'calibration', 'train']);
    c['data'] = { ...(c['data'] && typeof c['data'] === 'object' && !Array.isArray(c['data']) ? c['data'] : {}), [key]: pick(rng, DATA) };
    return `data.${key}: ${JSON.stringify(c['data'][key])}`;
  },
  function outputPath(rng, c) {
    c['output'] = pick(rng, OUTPUTS);
    return `output: ${JSON.stringify(c['output'])}`;
  },
  function gate(rng, c) {
    const g = pick(rng, GATES);
    c['gates'] = rng.next() < 0.5 ? [g] : [...(Array.isArray(c['gates']) ? c['gates'] : []), g];
    return `gate ${JSON.stringify(g.slice(0, 60))}`;
  },
  function stepOptions(rng, c) {
    const step = pick(rng, [
      { quantize: { dtype: pick(rng, ['q8', 'q4', 'int8', 'fp16', 'q3', '']) } },
      { quantize: { dtype: 'int8', mode: 'static' } },
      { prune: { method: pick(rng, ['magnitude', 'structured', 'nm', 'random']), sparsity: pick(rng, [0.5, 0, 1, -0.1, 1.5, '0.5']) } },
      { prune: { method: 'magnitude', sparsity: 0.5, finetune: true, epochs: 1 } },
      { distill: { student: pick(rng, ['64-8-3', '64-3', '../model.onnx', '/etc/passwd', 'x-y', '64-0-3', '']), epochs: 1 } },
      { quantize: { dtype: 'q8' }, prune: { method: 'magnitude' } },
      {},
    ] as Json[]);
    c['steps'] = [step];
    return `steps: ${JSON.stringify(step)}`;
  },
];

/** YAML-level damage the parser must report with a line, not a stack: tabs, unclosed flows, aliases, tags. */
const SYNTAX: ReadonlyArray<readonly [string, (text: string, rng: Rng) => string]> = [
  ['truncated', (t, rng) => t.slice(0, rng.int(t.length))],
  ['tab indent', (t) => t.replace(/\n {2}/, '\n\t')],
  ['unclosed flow', (t) => `${t}\nsteps: [{ quantize: { dtype: q8 }\n`],
  ['duplicate key', (t) => `${t}\nmodel: model.onnx\n`],
  [
    'alias bomb',
    (t) =>
      `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n${t}`,
  ],
  ['undefined alias', (t) => `${t}\nx: *nope\n`],
  ['custom tag', (t) => t.replace('model:', 'model: !!js/function "function(){}" #')],
  ['binary tag', (t) => `${t}\nextra: !!binary AAAA\n`],
  ['document separator', (t) => `${t}\n---\nmodel: other.onnx\n`],
  ['a scalar', () => 'just text'],
  ['a list', (t) => `- ${t.split('\n').join('\n  ')}`],
  ['empty', () => ''],
  [
    'NUL byte',
    (t, rng) => {
      const i = rng.int(t.length + 1);
      return t.slice(0, i) + '\u0000' + t.slice(i);
    },
  ],
  ['BOM', (t) => `\uFEFF${t}`],
];

/**
 * Breaks what validation must refuse (every config object is strict, so an unknown key anywhere is
 * fatal; so is a wrong type under search). For `shrink search`, whose every valid trial boots worker
 * threads (seconds each): its fuzzing stays at validation, where its own code is.
 */
function fatal(rng: Rng, c: Obj): string {
  const choice = rng.int(3);
  if (choice === 0) {
    const objs = [
      c,
      ...slots(c)
        .map(([box, k]) => (box as Record<string | number, Json>)[k]!)
        .filter((v): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)),
    ];
    const o = pick(rng, objs);
    const key = pick(rng, ['unknownKey', 'constructor', 'Model', 'workerz', ' dtype']);
    o[key] = pick(rng, WRONG_VALUES);
    return `unknown key ${key}`;
  }
  const search = (c['search'] ?? {}) as Obj;
  if (choice === 1) {
    const key = pick(rng, ['workers', 'objective', 'remeasure', 'space']);
    search[key] = pick(rng, ['x', -1, 0, 1.5, [], 'NaN', null]);
    c['search'] = search;
    return `search.${key} -> ${JSON.stringify(search[key])}`;
  }
  search['space'] = {
    quantize: [
      pick(rng, [
        { dtype: 'q7' },
        { dtype: 'int8', mode: 'static', calibration: 'x' },
        'q8',
        8,
        { dtype: 'q8', perChannel: 'yes' },
      ]) as Json,
    ],
  };
  c['search'] = search;
  return `search.space.quantize -> ${JSON.stringify(search['space'])}`;
}

/** The config as text (YAML or JSON) after zero to three mutations (`invalid`: plus one validation must refuse). */
export function mutateConfig(rng: Rng, c: Obj, json: boolean, invalid = false): ConfigMutation {
  const names: string[] = [];
  const r = rng.next();
  const rounds = r < 0.06 ? 0 : 1 + (rng.next() < 0.3 ? 1 + rng.int(2) : 0);
  for (let i = 0; i < rounds; i++) {
    const fn = pick(rng, mutators);
    names.push(`${fn.name}: ${fn(rng, c)}`);
  }
  if (invalid) names.push(`fatal: ${fatal(rng, c)}`);
  let text = json ? JSON.stringify(c, null, 2) : stringify(c);
  if (rounds > 0 && rng.next() < 0.2) {
    const [name, f] = pick(rng, SYNTAX);
    text = f(text, rng);
    names.push(`syntax: ${name}`);
  }
  return { name: names.join('; ') || 'unchanged', text };
}

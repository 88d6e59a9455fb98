/**
 * Case generation: case i of seed s is a pure function of (code version, s, i) — the corpus is built from fixed seeds, so any failing case can be
 * re-run alone (`scripts/fuzz.mjs --seed s --only i`) and a run is the same on every machine.
 */
import { decodeModel, encodeModel, onnx } from '@shrink/core';
import { createRng, deriveSeed, type Rng } from '@shrink/core/data';
import type { Corpus } from './corpus.js';
import { mutateBytes } from './mutate-bytes.js';
import { mutateOnnx } from './mutate-onnx.js';
import { mutateCsv, mutateDataJson, mutateModelJson } from './mutate-json.js';
import { baseConfig, CONFIG_OUTPUTS, mutateConfig } from './mutate-config.js';
import { pick } from './pick.js';

export interface CaseFile {
  /** Relative to the case folder. */
  path: string;
  data: Uint8Array | string;
}

export interface FuzzCase {
  index: number;
  /** Command, seed file and mutation, for the failure report. */
  label: string;
  files: CaseFile[];
  /** argv for main(); `{dir}` stands for the case folder (absolute paths: workers cannot chdir). */
  argv: string[];
  /** Files the command may create (relative); anything else new in the folder is a leftover. */
  outputs: string[];
  /** Exit 1 (a gate failed) is a defined outcome too: run and search. */
  gates?: boolean;
  /** The case must end in exit 2 with a message containing this (a refusal, not a missing file). */
  refusal?: string;
}

// Measuring is not what is fuzzed: one untimed-free run keeps quantize/prune/compare cheap.
const QUICK = ['--runs', '1', '--warmup', '0', '--json'];

/** The mutated model (or, 1 time in 25, the seed itself, so the exit-0 path is fuzzed too). */
function mutatedModel(rng: Rng, corpus: Corpus, names: readonly string[]): { name: string; bytes: Uint8Array; how: string } {
  const name = pick(rng, names);
  const bytes = corpus.onnx.get(name)!;
  const r = rng.next();
  if (r < 0.04) return { name, bytes, how: 'unchanged' };
  if (r < 0.55) {
    const m = mutateOnnx(rng, bytes);
    return { name, bytes: m.bytes, how: m.name };
  }
  const other = corpus.onnx.get(pick(rng, [...corpus.onnx.keys()]))!;
  const m = mutateBytes(rng, bytes, other);
  return { name, bytes: m.bytes, how: m.name };
}

const OUTSIDE = new Uint8Array(65536).fill(1);

/**
 * One initializer moved to external data that climbs out of the folder to a file that exists there,
 * with an offset and length that fit it: the path refusal is all that stands between the loader and
 * those bytes (a loader that stopped refusing `..` would exit 0 or fail differently, not with ENOENT).
 */
const climbCase: Maker = (rng, corpus) => {
  const name = pick(rng, [...corpus.onnx.keys()]);
  const m = decodeModel(corpus.onnx.get(name)!);
  const t = pick(
    rng,
    m.graph!.initializer!.filter((x) => (x.rawData?.length ?? 0) > 0 && x.rawData!.length <= OUTSIDE.length),
  );
  const location = pick(rng, ['../outside.bin', 'sub/../../x.bin', './../outside.bin']);
  const command = pick(rng, [
    ['info', '--json'],
    ['quantize', '--dtype', 'q8', ...QUICK],
    ['convert', '--json'],
    ['prune', '--method', 'magnitude', ...QUICK],
  ]);
  if (t) {
    const length = t.rawData!.length;
    t.rawData = new Uint8Array(0);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: '0' },
      { key: 'length', value: String(length) },
    ];
  }
  const out = command[0] !== 'info';
  return {
    label: `${command.join(' ')} on ${name} (initializer '${t?.name ?? '-'}' external data at '${location}', beside the folder)`,
    files: [
      { path: 'model.onnx', data: encodeModel(m) },
      { path: '../outside.bin', data: OUTSIDE },
      { path: '../x.bin', data: OUTSIDE },
    ],
    argv: [command[0]!, '{dir}/model.onnx', ...command.slice(1), ...(out ? ['-o', '{dir}/out.onnx'] : [])],
    outputs: out ? ['out.onnx'] : [],
    ...(t ? { refusal: 'stays inside it' } : {}),
  };
};

type Maker = (rng: Rng, corpus: Corpus) => Omit<FuzzCase, 'index'>;

const onnxCase =
  (command: string, flags: (rng: Rng) => string[], filter: (name: string) => boolean = () => true, output = true): Maker =>
  (rng, corpus) => {
    const m = mutatedModel(rng, corpus, [...corpus.onnx.keys()].filter(filter));
    const f = flags(rng);
    // A lone external-data location that climbs out of the folder to a file that is there: only the
    // path check stands between the loader and those bytes, so the message must be that refusal.
    // (Offset and length are checked first; the range they give is inside the 64 KiB file.)
    const climbs =
      /^externalData: initializer '[^']*' external data at '(\.\.\/outside\.bin|sub\/\.\.\/\.\.\/x\.bin)' \(offset '(0|4096)', length '(16|0)'\)$/.test(
        m.how,
      );
    return {
      label: `${command} ${f.join(' ')} on ${m.name} (${m.how})`,
      files: [
        { path: 'model.onnx', data: m.bytes },
        { path: 'data.json', data: corpus.data.json },
        // What '../outside.bin' and 'sub/../../x.bin' reach: beside the case folder, 64 KiB of real bytes.
        { path: '../outside.bin', data: OUTSIDE },
        { path: '../x.bin', data: OUTSIDE },
      ],
      ...(climbs ? { refusal: 'stays inside it' } : {}),
      argv: [command, '{dir}/model.onnx', ...f, ...(output ? ['-o', '{dir}/out.onnx'] : [])],
      outputs: output ? ['out.onnx', 'out.onnx_data'] : [],
    };
  };

const tfjsCase =
  (command: string[], output?: string): Maker =>
  (rng, corpus) => {
    let modelJson = corpus.tfjs.modelJson;
    let weights = corpus.tfjs.weights;
    let how: string;
    const r = rng.next();
    if (r < 0.6) {
      const m = mutateModelJson(rng, modelJson);
      modelJson = m.text;
      how = `model.json: ${m.name}`;
    } else if (r < 0.95) {
      const m = mutateBytes(rng, weights, corpus.onnx.get('mlp.onnx')!);
      weights = m.bytes;
      how = `weights: ${m.name}`;
    } else how = 'unchanged';
    return {
      label: `${command.join(' ')} on tfjs (${how})`,
      files: [
        { path: 'tfjs/model.json', data: modelJson },
        { path: `tfjs/${corpus.tfjs.weightsName}`, data: weights },
        // A file beside the folder that a `..` weight path would reach.
        { path: corpus.tfjs.weightsName, data: corpus.tfjs.weights },
      ],
      argv: [...command.map((a) => a.replace('{model}', '{dir}/tfjs')), ...(output ? ['-o', `{dir}/${output}`] : [])],
      outputs: output ? [output] : [],
    };
  };

const dataCase =
  (kind: 'json' | 'csv', command: (file: string) => string[]): Maker =>
  (rng, corpus) => {
    const m = kind === 'json' ? mutateDataJson(rng, corpus.data.json) : mutateCsv(rng, corpus.data.csv);
    const file = `data.${kind}`;
    const model = pick(rng, ['mlp.onnx', 'conv.onnx', 'mlp_q8.onnx']);
    const argv = command(file).map((a) => a.replace('{model}', '{dir}/model.onnx'));
    return {
      label: `${argv.join(' ')} with ${model} (data ${m.name})`,
      files: [
        { path: 'model.onnx', data: corpus.onnx.get(model)! },
        { path: file, data: m.text },
      ],
      argv,
      outputs: ['out.onnx'],
    };
  };

/** A mutated model against its seed: both are loaded and run side by side. */
const compareCase: Maker = (rng, corpus) => {
  const m = mutatedModel(rng, corpus, [...corpus.onnx.keys()]);
  return {
    label: `compare ${m.name} with itself (${m.how})`,
    files: [
      { path: 'model.onnx', data: m.bytes },
      { path: 'base.onnx', data: corpus.onnx.get(m.name)! },
    ],
    argv: ['compare', '{dir}/base.onnx', '{dir}/model.onnx', ...QUICK],
    outputs: [],
  };
};

/**
 * A pipeline config (YAML or JSON) in `p/` beside the tiny MLP and the 12-row data file, with copies one
 * folder up for `../` paths, through `shrink run` or `shrink search` (whose configs always carry one
 * fault validation must refuse: a valid search boots trial workers, seconds per case).
 */
const configCase =
  (command: 'run' | 'search'): Maker =>
  (rng, corpus) => {
    const json = rng.next() < 0.3;
    const m = mutateConfig(rng, baseConfig(rng, command === 'search'), json, command === 'search');
    const file = `p/shrink.config.${json ? 'json' : 'yaml'}`;
    const mlp = corpus.onnx.get('mlp.onnx')!;
    return {
      label: `${command} ${json ? 'JSON' : 'YAML'} config (${m.name})`,
      files: [
        { path: file, data: m.text },
        { path: 'p/model.onnx', data: mlp },
        { path: 'p/data.json', data: corpus.data.json },
        { path: 'p/data.csv', data: corpus.data.csv },
        { path: 'model.onnx', data: mlp },
        { path: 'data.json', data: corpus.data.json },
      ],
      argv: [command, `{dir}/${file}`, '--json', ...(command === 'search' ? ['--workers', '1'] : [])],
      outputs: CONFIG_OUTPUTS,
      gates: true,
    };
  };

/** Distillation from the tiny MLP on 12 rows, one epoch: a mutated teacher, or a mutated student spec or flag. */
const distillCase: Maker = (rng, corpus) => {
  const r = rng.next();
  let teacher = corpus.onnx.get('mlp.onnx')!;
  let how = 'unchanged';
  let student = '64-8-3';
  const extra: string[] = [];
  if (r < 0.45) {
    const m = mutatedModel(rng, corpus, ['mlp.onnx', 'mlp_q8.onnx', 'mlp_pruned.onnx', 'conv.onnx']);
    teacher = m.bytes;
    how = `teacher ${m.name}: ${m.how}`;
  } else if (r < 0.75) {
    student = pick(rng, [
      '64-3',
      '64-0-3',
      '63-8-3',
      '64-8-4',
      'c4-3',
      'x',
      '',
      '-',
      '64--3',
      '1e9-3',
      '64-8-3-',
      '{dir}/model.onnx',
      '../etc/passwd',
      'digits-mlp',
    ]);
    how = `student ${JSON.stringify(student)}`;
  } else if (r < 0.95) {
    const flag = pick(rng, [
      ['--temperature', pick(rng, ['0', '-1', 'NaN', '1e309'])],
      ['--alpha', pick(rng, ['-0.1', '1.1', 'x'])],
      ['--batch', pick(rng, ['0', '1', '2.5'])],
      ['--lr', pick(rng, ['0', '-1', 'Infinity'])],
      ['--hidden-match', pick(rng, ['h2:d1', 'nope:nope', ':', 'x'])],
      ['--teacher-output', pick(rng, ['probs', 'logits', 'softmax'])],
      ['--init-from-teacher'],
      ['--unlabeled'],
      ['--seed', pick(rng, ['-1', '1.5', '7'])],
      ['--cache-dir', ''],
    ]);
    extra.push(...flag);
    how = `flag ${flag.join(' ')}`;
  }
  return {
    label: `distill --student ${student} on mlp.onnx (${how})`,
    files: [
      { path: 'teacher.onnx', data: teacher },
      { path: 'data.json', data: corpus.data.json },
      { path: 'model.onnx', data: corpus.onnx.get('mlp.onnx')! },
    ],
    argv: [
      'distill',
      '--teacher',
      '{dir}/teacher.onnx',
      '--data',
      '{dir}/data.json',
      '--student',
      student,
      '--epochs',
      '1',
      '--no-cache',
      ...extra,
      '-o',
      '{dir}/out',
      ...QUICK,
    ],
    outputs: ['out'],
  };
};

const quantFlags = (rng: Rng): string[] =>
  pick(rng, [
    ['--dtype', 'q8', ...QUICK],
    ['--dtype', 'q8', '--per-channel', ...QUICK],
    ['--dtype', 'int8', '--mode', 'static', '--calib-data', '{dir}/data.json', ...QUICK],
    ['--dtype', 'q4', ...QUICK],
    ['--dtype', 'fp16', ...QUICK],
  ]);

/** Weighted makers: the cheap commands carry the bulk, every command is reached. */
const MAKERS: ReadonlyArray<readonly [number, Maker]> = [
  [40, onnxCase('info', () => ['--json'], undefined, false)],
  [22, onnxCase('quantize', () => ['--dtype', 'q8', ...QUICK])],
  [6, onnxCase('quantize', (rng) => quantFlags(rng))],
  [
    5,
    onnxCase('prune', (rng) =>
      pick(rng, [
        ['--method', 'magnitude', '--sparsity', '0.5', ...QUICK],
        ['--method', 'structured', '--sparsity', '0.5', ...QUICK],
        ['--method', 'nm', ...QUICK],
      ]),
    ),
  ],
  [
    4,
    onnxCase('cleanup', (rng) =>
      pick(rng, [[...QUICK], ['--dedupe-initializers', ...QUICK], ['--no-fold-constants', '--no-remove-identity', ...QUICK]]),
    ),
  ],
  [4, onnxCase('convert', (rng) => (rng.next() < 0.5 ? ['--json'] : ['--external-data', '--json']))],
  [3, onnxCase('eval', () => ['--data', '{dir}/data.json', '--json'], undefined, false)],
  [2, compareCase],
  [6, tfjsCase(['info', '{model}', '--json'])],
  [2, tfjsCase(['quantize', '{model}', '--dtype', 'q8', '--json'], 'out_tfjs')],
  [2, tfjsCase(['convert', '{model}', '--json'], 'out.onnx')],
  [3, dataCase('json', (f) => ['eval', '{model}', '--data', `{dir}/${f}`, '--json'])],
  [3, dataCase('csv', (f) => ['eval', '{model}', '--data', `{dir}/${f}`, '--json'])],
  [
    2,
    dataCase('json', (f) => [
      'quantize',
      '{model}',
      '--dtype',
      'int8',
      '--mode',
      'static',
      '--calib-data',
      `{dir}/${f}`,
      '-o',
      '{dir}/out.onnx',
      ...QUICK,
    ]),
  ],
  [6, configCase('run')],
  [2, configCase('search')],
  [1, distillCase],
  [1, climbCase],
];
const TOTAL = MAKERS.reduce((a, [w]) => a + w, 0);

export function makeCase(corpus: Corpus, seed: number, index: number): FuzzCase {
  const rng = createRng(deriveSeed(seed, index));
  let r = rng.int(TOTAL);
  for (const [w, make] of MAKERS) {
    if (r < w) return { index, ...make(rng, corpus) };
    r -= w;
  }
  throw new Error('unreachable');
}

// Pipeline configs and gates in-process: validation with paths and choices, the locked-down gate
// language, the JSON Schema in docs/, the search space and Pareto fronts, and the distill step wired.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isShrinkError, metric, type CandidateReport } from '@shrink/core';
import { loadModel } from '@shrink/core/io';
import { configJsonSchema } from './config-schema.js';
import { compileGates, evaluateGates, describeFailedGate } from './gates.js';
import { loadConfig, parseConfigText, validateConfig } from './load-config.js';
import { paretoFront } from './pareto.js';
import { expandTrials } from './search-space.js';
import { PipelineDatasets, runSteps } from './run-steps.js';
import { pruneStepNote } from '@shrink/prune/pass';
import { runPipeline } from './run-pipeline.js';
import { failedTrialsNotes, rankPassing } from './search.js';
import { digitsModel } from './pipeline.fixture.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-pl-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const validate = (raw: unknown) => validateConfig(raw, { file: 'c.yaml', dir: '/cfg' });

async function refused(raw: unknown, pattern: RegExp): Promise<void> {
  await assert.rejects(validate(raw), (e: unknown) => {
    assert.ok(isShrinkError(e), String(e));
    assert.equal(e.code, 'INVALID_CONFIG');
    assert.doesNotMatch(e.message, /\n/);
    assert.match(e.message, pattern);
    return true;
  });
}

const base = { model: 'm.onnx', data: { eval: 'digits', train: 'digits' }, steps: [{ quantize: { dtype: 'q8' } }] };

test('a good YAML config: defaults applied, paths relative to the config file, steps tagged, region resolved', async () => {
  const cfgDir = path.join(dir, 'cfg');
  const file = path.join(cfgDir, 'shrink.config.yaml');
  await import('node:fs/promises').then((fs) => fs.mkdir(cfgDir, { recursive: true }));
  writeFileSync(
    file,
    [
      'model: models/classifier.onnx',
      'data: { eval: data/test.json, train: digits }',
      'steps:',
      '  - prune: { method: magnitude, sparsity: 0.5, finetune: true, epochs: 1 }',
      '  - quantize: { dtype: q8 }',
      'evaluation: { runs: 10, region: fr }',
      'gates:',
      '  - accuracy.delta >= -0.01',
      '  - size.ratio <= 0.3',
    ].join('\n'),
  );
  const c = await loadConfig(file);
  assert.equal(c.model, path.join(cfgDir, 'models', 'classifier.onnx'));
  assert.equal(c.output, path.join(cfgDir, 'shrink-out'));
  assert.equal(c.data.cwd, cfgDir);
  assert.deepEqual(
    c.steps.map((s) => s.kind),
    ['prune', 'quantize'],
  );
  assert.equal(c.steps[1]!.kind === 'quantize' && c.steps[1]!.options.mode, 'auto');
  assert.equal(c.evaluation.runs, 10);
  assert.equal(c.evaluation.warmup, 5);
  assert.equal(c.grid.value, 56);
  assert.deepEqual(
    c.gates.map((g) => g.names),
    [['accuracy.delta'], ['size.bytes.ratio']],
  );
  assert.equal((await loadConfig(file, { output: 'elsewhere' })).output, path.resolve('elsewhere'));
  // JSON works the same.
  writeFileSync(path.join(cfgDir, 'c.json'), JSON.stringify(base));
  assert.equal((await loadConfig(path.join(cfgDir, 'c.json'))).model, path.join(cfgDir, 'm.onnx'));
});

test('examples/shrink.config.yaml is a valid config', async () => {
  const c = await loadConfig(path.resolve(here, '../../../../examples/shrink.config.yaml'));
  assert.deepEqual(
    c.steps.map((s) => s.kind),
    ['prune', 'quantize'],
  );
  assert.match(c.model, /examples[\\/]models[\\/]digits-mlp[\\/]model\.onnx$/);
});

test('examples/github-actions/shrink.yml runs on changes to the example config and a comment it cannot post does not fail the job', () => {
  const wf = parseConfigText(readFileSync(path.resolve(here, '../../../../examples/github-actions/shrink.yml'), 'utf8'), 'shrink.yml') as {
    on: { pull_request: { paths: string[] } };
    jobs: { shrink: { steps: Array<{ name?: string; 'continue-on-error'?: boolean }> } };
  };
  assert.ok(wf.on.pull_request.paths.includes('examples/shrink.config.yaml'));
  const comment = wf.jobs.shrink.steps.find((st) => st.name?.startsWith('Post report.md'));
  assert.equal(comment?.['continue-on-error'], true, 'fork pull requests get a read-only token');
});

test('schema errors name the path and the valid choices', async () => {
  await refused(
    { ...base, steps: [{ prune: {} }, { quantize: { dtype: 'q9' } }] },
    /^c\.yaml: steps\[1\]\.quantize\.dtype: must be one of "q8", "int8", "uint8", "q4", "q4f16", "fp16", got "q9"$/,
  );
  await refused(
    { ...base, steps: [{ quantize: { dtyp: 'q8' } }] },
    /steps\[0\]\.quantize: unknown key dtyp; valid keys: dtype, mode, weightType, reduceRange, convFormat, perChannel/,
  );
  await refused(
    { ...base, modle: 'x' },
    /\(top level\): unknown key modle; valid keys: \$schema, model, data, steps, evaluation, gates, output, search/,
  );
  await refused({ ...base, steps: [{ squash: {} }] }, /steps\[0\]: unknown key squash; valid keys: cleanup, distill, prune, quantize/);
  await refused(
    { ...base, steps: [{ prune: {}, quantize: {} }] },
    /steps\[0\]: must have exactly one key, one of cleanup, distill, prune, quantize/,
  );
  await refused({ ...base, evaluation: { runs: 'many' } }, /evaluation\.runs: expected number, got "many"/);
  await refused({ ...base, data: { eval: 'digits', test: 'x' } }, /data: unknown key test; valid keys: eval, calibration, train/);
  await refused({ ...base, evaluation: { region: 'ATLANTIS' } }, /evaluation\.region: unknown region "ATLANTIS"; known: WORLD, EU, US/);
  await refused({ ...base, steps: [] }, /steps: give at least one step/);
  await refused('model: x', /expected a mapping/);
});

test('combinations the passes would refuse only later are refused up front', async () => {
  await refused(
    { ...base, steps: [{ quantize: { dtype: 'q4', mode: 'static' } }] },
    /steps\[0\]\.quantize\.mode: mode static applies to 8-bit dtypes/,
  );
  await refused(
    { model: 'm.onnx', steps: [{ quantize: { mode: 'static' } }] },
    /steps\[0\]\.quantize\.calibData: static quantization needs calibration data .*\(set data\.calibration, data\.train or data\.eval\)/,
  );
  await refused(
    { model: 'm.onnx', data: { eval: 'digits' }, steps: [{ prune: { finetune: true } }] },
    /steps\[0\]\.prune\.finetune: fine-tuning needs training data, and none is given \(set data\.train\)/,
  );
  await refused({ ...base, steps: [{ prune: { method: 'nm', schedule: 'cubic' } }] }, /schedule: gradual pruning is by magnitude/);
  await refused(
    { model: 'm.onnx', steps: [{ distill: { student: '64-16-10' } }] },
    /steps\[0\]\.distill: distillation needs training data .*\(set data\.train\)/,
  );
  await refused({ ...base, search: { space: { quantize: [{ dtype: 'q4', mode: 'static' }] } } }, /search\.space\.quantize\[0\]\.mode/);
  await refused({ model: 'm.onnx', search: { space: { quantize: [null], prune: [null] } } }, /search\.space: every variant is null/);
});

test('bad gate syntax and hostile gates are refused at validation, one line each', async () => {
  await refused({ ...base, gates: ['accuracy.delta >='] }, /gates\[0\] "accuracy\.delta >=": not a valid expression/);
  await refused(
    { ...base, gates: ['size.ratio <= 0.3', 'accuracy.delta'] },
    /gates\[1\] "accuracy\.delta": gives a number, not true\/false/,
  );
  await refused({ ...base, gates: ['accuracy >= 0.9'] }, /accuracy needs a field: accuracy\.baseline, accuracy\.candidate/);
  await refused({ ...base, gates: ['size.ratio <= 1 cm'] }, /cm is not a metric/);
  await refused(
    { ...base, gates: ['size.ratio < 2 ? size.ratio < 1 : size.ratio'] },
    /gates\[0\] .*gives a number, not true\/false \(every branch/,
  );
  await refused({ ...base, gates: ['size.ratio > 2 ? 1 : true'] }, /gives a number, not true\/false/);
  await refused({ ...base, gates: ['size.ratio + 1'] }, /gives a number, not true\/false/);
  assert.equal(
    (await validate({ ...base, gates: ['size.ratio < 2 ? size.ratio < 1 : false', '(size.ratio < 2 ? 1 : 3) < 2'] })).gates.length,
    2,
  );
  await refused(
    { model: 'm.onnx', steps: [{ quantize: {} }], gates: ['size.ratio < 1', 'accuracy.delta > -0.01'] },
    /gates\[1\] "accuracy\.delta > -0\.01": reads accuracy\.delta, which needs data\.eval/,
  );
  const hostile: Array<[string, RegExp]> = [
    ['f(x)=x', /function definitions are not allowed/],
    ['import({}, {})', /calling import is not allowed/],
    ['evaluate("1")', /calling evaluate is not allowed/],
    ['a = 1', /assignments .* are not allowed/],
    ['constructor', /constructor is not a metric/],
    ['__proto__', /__proto__ is not a metric/],
    ['accuracy.constructor', /accuracy\.constructor is not a metric/],
    ['accuracy.delta.constructor > 0', /accuracy\.delta\.constructor is not a metric/],
    ['cos.constructor("return process")()', /gates\[0\]/],
    ['accuracy["__proto__"] > 1', /only dot notation/],
    ['parse("1") == 1', /calling parse is not allowed/],
    ['"x" == "x"', /constant "x" is not allowed/],
    ['[1] == [1]', /ArrayNode is not allowed/],
    ['{a: 1}.a == 1', /gates\[0\]/],
    ['accuracy.delta > 0; f(x) = x', /BlockNode is not allowed/],
  ];
  for (const [expr, pattern] of hostile) await refused({ ...base, gates: [expr] }, pattern);
});

test('very long or deeply nested gates are refused with one line naming the gate, the expression cut short', async () => {
  const oneLine = (pattern: RegExp) => (e: unknown) => {
    assert.ok(isShrinkError(e), String(e));
    assert.equal(e.code, 'INVALID_CONFIG');
    assert.doesNotMatch(e.message, /\n|unexpected|Maximum call stack/);
    assert.match(e.message, pattern);
    assert.ok(e.message.length < 250, e.message);
    return true;
  };
  const long = Array.from({ length: 2000 }, () => 'size.ratio < 1').join(' and ');
  await assert.rejects(
    validate({ ...base, gates: ['size.ratio < 1', long] }),
    oneLine(/gates\[1\] "size\.ratio < 1 and .{40,}\.\.\.": is \d+ characters long; a gate has at most 500/),
  );
  const deep = `${'('.repeat(100)}size.ratio < 1${')'.repeat(100)}`;
  await assert.rejects(validate({ ...base, gates: [deep] }), oneLine(/gates\[0\] .*: nests 100 levels deep; a gate nests at most 32/));
  await assert.rejects(validate({ ...base, gates: [`${'-'.repeat(400)}size.ratio < 1`] }), oneLine(/gates\[0\] .*nests 400 levels deep/));
  assert.equal((await compileGates([`${'('.repeat(30)}size.ratio < 1${')'.repeat(30)}`], 'c: '))[0]?.names[0], 'size.bytes.ratio');
});

const cand = (metrics: CandidateReport['metrics']): Pick<CandidateReport, 'name' | 'metrics'> => ({ name: 'c', metrics });

test('gates evaluate over every field and alias; a missing metric fails with the reason', async () => {
  const gates = await compileGates(
    [
      'accuracy.delta >= -0.01',
      'size.ratio <= 0.3 and latency.p50.ratio < 1',
      'abs(accuracy.delta) < 0.005 or params.ratio < 0.5',
      'energy.ratio <= 1',
      'accuracy.candidate > accuracy.baseline - 0.02',
    ],
    '',
  );
  const metrics = {
    accuracy: metric('accuracy', 0.95, 0.945),
    'size.bytes': metric('size.bytes', 1000, 250),
    'latency.p50': metric('latency.p50', 1, 0.6, { ratio: 0.62 }),
    params: metric('params', 100, 100),
  };
  const r = evaluateGates(gates, cand(metrics));
  assert.deepEqual(
    r.map((g) => g.passed),
    [true, true, false, false, true],
  );
  assert.ok(Math.abs(r[1]!.values['latency.p50.ratio']! - 0.62) < 1e-12, 'the paired ratio, not candidate/baseline');
  assert.deepEqual(r[3]!.values, { 'energy.perInference.ratio': null });
  assert.match(r[3]!.error!, /energy\.perInference\.ratio not measured/);
  assert.match(
    describeFailedGate(r[2]!),
    /^gate failed: abs\(accuracy\.delta\) < 0\.005 or params\.ratio < 0\.5 \[c\] \(accuracy\.delta = -0\.005\d*, params\.ratio = 1\)$/,
  );
  const noAcc = evaluateGates(gates.slice(0, 1), cand({ 'size.bytes': metrics['size.bytes'] }));
  assert.equal(noAcc[0]!.passed, false);
  assert.match(noAcc[0]!.error!, /need data\.eval/);
  const [mse] = evaluateGates(await compileGates(['mse.delta <= 0.01'], ''), cand(metrics));
  assert.equal(mse!.passed, false);
  assert.match(mse!.error!, /mse\.delta not measured \(the model is a classifier: mse and mae are measured for regression models only\)/);
});

test('docs/config.schema.json is the schema `shrink run --print-schema` prints', () => {
  const schema = configJsonSchema();
  const file = path.resolve(here, '../../../../docs/config.schema.json');
  assert.deepEqual(
    JSON.parse(readFileSync(file, 'utf8')),
    schema,
    'regenerate docs/config.schema.json with `pnpm shrink run --print-schema`',
  );
  const step = (schema['properties'] as any).steps.items;
  assert.deepEqual(Object.keys(step.properties), ['cleanup', 'distill', 'prune', 'quantize']);
  assert.equal(step.maxProperties, 1);
  assert.deepEqual(step.properties.quantize.properties.dtype.enum, ['q8', 'int8', 'uint8', 'q4', 'q4f16', 'fp16']);
});

test('search space: every combination in distill -> prune -> quantize order, none-only left out; default space', async () => {
  const c = await validate({
    model: 'm.onnx',
    data: { eval: 'digits' },
    steps: [{ quantize: {} }],
    search: { space: { quantize: [null, { dtype: 'q8' }, { dtype: 'q4' }], prune: [null, { method: 'structured', sparsity: 0.5 }] } },
  });
  const trials = expandTrials(c);
  assert.deepEqual(
    trials.map((t) => t.name),
    ['t1-q8', 't2-q4', 't3-prune-structured0.5', 't4-prune-structured0.5+q8', 't5-prune-structured0.5+q4', 't6-q8'],
  );
  assert.deepEqual(
    trials[4]!.steps.map((s) => s.kind),
    ['prune', 'quantize'],
  );
  const d = expandTrials({ data: { cwd: '/', eval: 'digits' }, steps: [], search: { objective: 'size', remeasure: true } });
  assert.equal(d.length, 3 * 6 - 1);
  assert.ok(d.some((t) => t.name.includes('q8-static')));
});

test('shrink search on a config with neither steps nor a search block uses the built-in space', async () => {
  const raw = { model: 'm.onnx', data: { eval: 'digits' } };
  await refused(raw, /steps: give at least one step/);
  const c = await validateConfig(raw, { file: 'c.yaml', dir: '/cfg', search: true });
  assert.equal(c.search?.objective, 'size');
  assert.equal(expandTrials(c).length, 3 * 6 - 1);
});

test('the best trial: smallest file or lowest paired latency ratio among the passing ones', () => {
  const t = (name: string, bytes: number, ratio: number, passed = true) => ({
    name,
    config: [],
    passed,
    failedGates: passed ? [] : ['g'],
    seconds: 1,
    metrics: { 'size.bytes': metric('size.bytes', 100, bytes), 'latency.p50': metric('latency.p50', 1, 2, { ratio }) },
  });
  const trials = [t('a', 50, 0.9), t('b', 30, 0.7), t('c', 40, 0.5), t('d', 10, 0.1, false)];
  assert.deepEqual(
    rankPassing(trials, 'size').map((r) => r.name),
    ['b', 'c', 'a'],
  );
  assert.deepEqual(
    rankPassing(trials, 'latency').map((r) => r.name),
    ['c', 'b', 'a'],
  );
});

test('step and search notes: structured pruning reports units removed; failed trials one line per distinct error', () => {
  const layer = (unitsRemoved: number, unitsKept: number) => ({
    name: 'l',
    opType: 'MatMul',
    action: 'pruned' as const,
    unitsRemoved,
    unitsKept,
    sparsity: 0,
  });
  assert.equal(
    pruneStepNote({
      method: 'structured',
      targetSparsity: 0.5,
      sparsity: 0,
      layers: [layer(32, 32), layer(16, 48), { name: 's', opType: 'MatMul', action: 'skipped' }],
    }),
    'structured: target sparsity 0.5, removed 48 of 128 units (37.5%) over 2 pruned layer(s)',
  );
  assert.equal(
    pruneStepNote({ method: 'magnitude', targetSparsity: 0.5, sparsity: 0.5, layers: [] }),
    'magnitude: target sparsity 0.5, reached 50.0% over the pruned layers',
  );
  const boom = 'distill: student 784-64-10 has 784 inputs, the teacher 64';
  assert.deepEqual(
    failedTrialsNotes([
      { name: 't1', error: boom },
      { name: 't2', error: 'other' },
      { name: 't3', error: boom },
    ]),
    [`2 trial(s) failed to run (t1, t3): ${boom}`, '1 trial(s) failed to run (t2): other'],
  );
});

test('Pareto front: nothing on it is beaten on both axes', () => {
  const front = paretoFront([
    { name: 'a', cost: 1, quality: 0.9 },
    { name: 'b', cost: 2, quality: 0.95 },
    { name: 'c', cost: 2, quality: 0.9 },
    { name: 'd', cost: 3, quality: 0.95 },
    { name: 'e', cost: 0.5, quality: 0.5 },
    { name: 'f', cost: NaN, quality: 1 },
  ]);
  assert.deepEqual(front, ['e', 'a', 'b']);
});

test('a YAML alias bomb, a missing model and an unreadable data.eval are one line naming the file or key', async () => {
  const names = 'abcdefghij';
  const bomb = [
    'a: &a [x, x, x, x, x, x, x, x, x]',
    ...[...names.slice(1)].map((n, i) => `${n}: &${n} [${Array(9).fill(`*${names[i]}`).join(', ')}]`),
  ].join('\n');
  assert.throws(
    () => parseConfigText(bomb, 'bomb.yaml'),
    (e: unknown) =>
      isShrinkError(e) &&
      e.code === 'INVALID_CONFIG' &&
      /^bomb\.yaml: not valid YAML \(.*alias/i.test(e.message) &&
      !e.message.includes('\n'),
  );
  await refused({ steps: [{ quantize: {} }] }, /^c\.yaml: model: required/);
  await assert.rejects(
    new PipelineDatasets({ eval: 'nope.json', cwd: dir }).eval(),
    (e: unknown) => isShrinkError(e) && /^data\.eval: .*nope\.json/.test(e.message),
  );
});

test("an output folder that is the model's folder, inside a tfjs model or holding the data is refused; a save over an input does not advise --force", async () => {
  const at = (raw: Record<string, unknown>) => validateConfig({ ...base, ...raw }, { file: 'c.yaml', dir: '/cfg' });
  const bad = async (raw: Record<string, unknown>, pattern: RegExp) =>
    assert.rejects(at(raw), (e: unknown) => isShrinkError(e) && e.code === 'INVALID_CONFIG' && pattern.test(e.message));
  await bad({ model: 'models/m.onnx', output: 'models' }, /c\.yaml: output: \/cfg\/models is the model's folder/);
  await bad({ model: 'm.onnx', output: '.' }, /output: \/cfg is the model's folder/);
  await bad({ model: 'tfjs-model', output: 'tfjs-model/out' }, /is the model folder or inside it/);
  await bad({ model: 'm.onnx', data: { eval: 'out/test.csv' }, output: 'out' }, /output: \/cfg\/out holds data\.eval \(out\/test\.csv\)/);
  assert.equal((await at({ model: 'models/m.onnx', data: { eval: 'digits' }, output: '.' })).output, '/cfg');
  await assert.rejects(
    validateConfig({ ...base, model: 'm.onnx' }, { file: 'c.yaml', dir: '/cfg', output: '/cfg' }),
    /--output: \/cfg is the model's folder/,
  );

  const model = await loadModel(await digitsModel(dir, 1));
  const clash = path.join(dir, 'clash');
  await import('node:fs/promises').then((fs) => fs.mkdir(clash, { recursive: true }));
  const input = path.join(clash, 'step1-quantize.onnx');
  writeFileSync(input, 'x');
  const q8 = {
    kind: 'quantize' as const,
    options: {
      dtype: 'q8' as const,
      mode: 'dynamic' as const,
      perChannel: false,
      calibMethod: 'minmax' as const,
      percentile: 99.99,
      calibSamples: 8,
      blockSize: 32 as const,
      symmetric: true,
      accuracyLevel: 4,
      explain: false,
    },
  };
  await assert.rejects(runSteps(model, [q8], new PipelineDatasets({ cwd: dir }), { outDir: clash, inputs: [input] }), (e: unknown) => {
    assert.ok(isShrinkError(e), String(e));
    assert.match(e.message, /refusing to overwrite input file/);
    assert.doesNotMatch(e.message, /--force/);
    return true;
  });
});

test('a distill student model path is relative to the config folder and must exist; specs and presets stay as they are', async () => {
  const cfg = path.join(dir, 'student-cfg');
  await import('node:fs/promises').then((fs) => fs.mkdir(path.join(cfg, 'students'), { recursive: true }));
  writeFileSync(path.join(cfg, 'students', 's.onnx'), 'x');
  const at = (student: string, search = false) =>
    validateConfig(
      {
        model: 'm.onnx',
        data: { train: 'digits' },
        ...(search ? { search: { space: { distill: [null, { student }] } } } : { steps: [{ distill: { student } }] }),
      },
      { file: 'c.yaml', dir: cfg },
    );
  const c = await at('students/s.onnx');
  assert.equal(c.steps[0]!.kind === 'distill' && c.steps[0]!.options.student, path.join(cfg, 'students', 's.onnx'));
  const t = expandTrials(await at('students/s.onnx', true));
  assert.equal(t[0]!.steps[0]!.kind === 'distill' && t[0]!.steps[0]!.options.student, path.join(cfg, 'students', 's.onnx'));
  for (const keep of ['784-64-10', 'c8-32-10', 'digits-mlp']) {
    const step = (await at(keep)).steps[0]!;
    assert.equal(step.kind === 'distill' && step.options.student, keep);
  }
  const refusedAt = async (p: Promise<unknown>, pattern: RegExp) =>
    assert.rejects(
      p,
      (e: unknown) => isShrinkError(e) && e.code === 'INVALID_CONFIG' && pattern.test(e.message) && !e.message.includes('--student'),
    );
  await refusedAt(
    at('students/nope.onnx'),
    /^c\.yaml: steps\[0\]\.distill\.student: .*students\/nope\.onnx does not exist; a student is a layer spec/,
  );
  await refusedAt(at('nope', true), /^c\.yaml: search\.space\.distill\[1\]\.student: .*nope does not exist/);
  await refusedAt(at('784-c'), /^c\.yaml: steps\[0\]\.distill\.student: "784-c" is not a layer spec/);
});

test('a missing model or data path fails before any folder is made or any step runs', async () => {
  const c = await validateConfig(
    { model: 'nope.onnx', data: { eval: 'digits' }, steps: [{ quantize: {} }], output: 'never' },
    { file: 'c.yaml', dir },
  );
  await assert.rejects(runPipeline(c), (e: unknown) => isShrinkError(e) && e.code === 'NOT_FOUND' && /nope\.onnx/.test(e.message));
  const model = await digitsModel(path.join(dir), 1);
  const d = await validateConfig(
    { model, data: { eval: 'digits', train: 'missing.csv' }, steps: [{ quantize: {} }, { prune: { finetune: true } }], output: 'never' },
    { file: 'c.yaml', dir },
  );
  await assert.rejects(runPipeline(d), /missing\.csv/);
  assert.equal(existsSync(path.join(dir, 'never')), false);
  // A step failing at run time (static calibration data that does not exist) leaves no empty folder.
  const e = await validateConfig(
    { model, data: { eval: 'digits' }, steps: [{ quantize: { mode: 'static', calibData: 'no-such-calib.csv' } }], output: 'empty-after' },
    { file: 'c.yaml', dir },
  );
  await assert.rejects(runPipeline(e), /no-such-calib\.csv/);
  assert.equal(existsSync(path.join(dir, 'empty-after')), false);
});

test('runSteps with a memo: a prefix run before is reused, not recomputed', async () => {
  const model = await loadModel(await digitsModel(path.join(dir), 1));
  const out = path.join(dir, 'memo-out');
  await import('node:fs/promises').then((fs) => fs.mkdir(out, { recursive: true }));
  const datasets = new PipelineDatasets({ eval: 'digits:100', cwd: dir });
  const memo = new Map();
  const prune = {
    kind: 'prune' as const,
    options: {
      method: 'magnitude' as const,
      sparsity: 0.5,
      scope: 'layer' as const,
      norm: 'l1' as const,
      n: 2,
      m: 4,
      pruneBias: false,
      finetune: false,
    },
  };
  const q = (dtype: 'q8' | 'q4') => ({
    kind: 'quantize' as const,
    options: {
      dtype,
      mode: 'dynamic' as const,
      perChannel: false,
      calibMethod: 'minmax' as const,
      percentile: 99.99,
      calibSamples: 8,
      blockSize: 32 as const,
      symmetric: true,
      accuracyLevel: 4,
      explain: false,
    },
  });
  const a = await runSteps(model, [prune, q('q8')], datasets, { outDir: out, prefix: 'a-', inputs: [], memo, label: 'a' });
  const b = await runSteps(model, [prune, q('q4')], datasets, { outDir: out, prefix: 'b-', inputs: [], memo, label: 'b' });
  assert.doesNotMatch(a.steps[0]!.notes.join(' '), /reused/);
  assert.match(b.steps[0]!.notes.join(' '), /computed once for a and reused/);
  assert.doesNotMatch(b.steps[1]!.notes.join(' '), /reused/);
  assert.equal(path.basename(b.path), 'b-2-quantize.onnx');
  assert.equal(memo.size, 3);
});

test('distill step: runs through distillModel, saves the student, records the training energy', async () => {
  const model = await digitsModel(dir, 1);
  const out = path.join(dir, 'distill-out');
  await import('node:fs/promises').then((fs) => fs.mkdir(out, { recursive: true }));
  const datasets = new PipelineDatasets({ train: 'digits:400', eval: 'digits:400', cwd: dir });
  const run = await runSteps(
    await loadModel(model),
    [
      {
        kind: 'distill',
        options: {
          student: '64-16-10',
          temperature: 4,
          alpha: 0.7,
          epochs: 1,
          batch: 64,
          lr: 0.001,
          hiddenWeight: 1,
          teacherOutput: 'auto',
          initFromTeacher: false,
          seed: 0,
          unlabeled: false,
          baselineScratch: false,
          cache: true,
        },
      },
    ],
    datasets,
    { outDir: out, inputs: [model] },
  );
  assert.equal(run.steps[0]!.kind, 'distill');
  assert.ok(run.steps[0]!.energy!.joules > 0);
  assert.match(run.steps[0]!.energy!.method, /cpu-power-model/);
  assert.equal(path.basename(run.path), 'step1-distill.onnx');
  assert.ok(existsSync(run.path));
});

test('prune step with fine-tuning on a PyTorch model that outputs logits: trained as logits, accuracy kept', async () => {
  const torch = fileURLToPath(new URL('../../../prune/src/fixtures/torch-digits-mlp.onnx', import.meta.url));
  const out = path.join(dir, 'torch-out');
  await import('node:fs/promises').then((fs) => fs.mkdir(out, { recursive: true }));
  const datasets = new PipelineDatasets({ train: 'digits', eval: 'digits', cwd: dir });
  const prune = {
    kind: 'prune' as const,
    options: {
      method: 'magnitude' as const,
      sparsity: 0.9,
      scope: 'global' as const,
      norm: 'l1' as const,
      n: 2,
      m: 4,
      pruneBias: false,
      finetune: true,
      epochs: 3,
    },
  };
  const model = await loadModel(torch);
  const run = await runSteps(model, [prune], datasets, { outDir: out, inputs: [torch] });
  assert.match(run.steps[0]!.notes.join('\n'), /cross-entropy from logits: .*linear: logits/);
  const { createSession, evaluate } = await import('@shrink/core/runtime');
  const test = (await datasets.train()).test;
  const score = async (m: typeof model) => {
    const s = await createSession(m);
    const e = await evaluate(s, test);
    await s.release();
    return e.task === 'classification' ? e.accuracy : Number.NaN;
  };
  const [before, after] = [await score(model), await score(run.model)];
  // Trained as probabilities this step left 20 % (10 epochs).
  assert.ok(after >= before - 0.01, `pruned ${after} vs fp32 ${before}`);
});

test('shrink run: a final model that fails to measure (exit 2) leaves only the models of the steps before it, and no folder the run made', async () => {
  const { tinyMlp } = await import('../fuzz/corpus.js');
  const { encodeModel } = await import('@shrink/core');
  const { readdirSync } = await import('node:fs');
  const at = mkdtempSync(path.join(dir, 'unmeasurable-'));
  // The passes keep a Relu reading a value nothing produces; onnxruntime refuses the model when it is measured.
  const m = tinyMlp();
  m.graph!.node!.find((n) => n.opType === 'Relu')!.input![0] = 'nowhere';
  writeFileSync(path.join(at, 'bad.onnx'), encodeModel(m));
  const config = (output: string, steps: unknown[]) => validateConfig({ model: 'bad.onnx', steps, output }, { file: 'c.yaml', dir: at });
  const fails = async (c: Awaited<ReturnType<typeof config>>) =>
    assert.rejects(runPipeline(c), (e: unknown) => {
      assert.ok(isShrinkError(e), String(e));
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  await fails(await config('two', [{ prune: { method: 'magnitude' } }, { quantize: { dtype: 'q8' } }]));
  assert.deepEqual(readdirSync(path.join(at, 'two')), ['step1-prune.onnx'], 'the failing step 2 model was left behind');
  await fails(await config('one', [{ quantize: { dtype: 'q8' } }]));
  assert.ok(!existsSync(path.join(at, 'one')), 'the folder this run made and wrote only the failing model into is left');
});

test('target: a bad value is one line naming the key and the valid names; absent means cpu', async () => {
  await refused({ ...base, target: 'gpu' }, /^c\.yaml: target: must be one of "cpu", "cpu-x86-avx2", .*"wasm", "webgpu", got "gpu"$/);
  assert.equal((await validate(base)).target, 'cpu');
  assert.equal((await validate({ ...base, target: 'webgpu' })).target, 'webgpu');
});

test('target: wasm: the steps run with ctx.target, the models are measured in onnxruntime-web, the report names it and lists the kernels', async () => {
  const { tinyMlp } = await import('../fuzz/corpus.js');
  const { encodeModel, kernelPaths, targetContext } = await import('@shrink/core');
  const at = mkdtempSync(path.join(dir, 'target-wasm-'));
  writeFileSync(path.join(at, 'mlp.onnx'), encodeModel(tinyMlp()));
  // allowSlower: a 16-unit MLP may well be slower in int8; this test is about where it runs, not its speed
  const config = await validateConfig(
    { model: 'mlp.onnx', target: 'wasm', steps: [{ quantize: { dtype: 'q8', allowSlower: true } }], output: 'out' },
    { file: 'c.yaml', dir: at },
  );
  const { report } = await runPipeline(config);
  const t = report.target!;
  assert.equal(t.name, 'wasm');
  assert.equal(t.runtime, 'onnxruntime-web-wasm');
  assert.match(t.runtimeVersion ?? '', /^1\.\d+\.\d+/);
  assert.equal(t.measured, true);
  assert.equal(t.threads, 1);
  assert.match(t.measurement, /^measured in onnxruntime-web 1\.\d+\.\d+ \(WASM\) in this process$/);
  assert.match(report.candidates[0]!.metrics['latency.p50']!.method ?? '', /onnxruntime-web/);
  const kernels = report.candidates[0]!.kernels!;
  assert.deepEqual(
    kernels.map((k) => [k.opType, k.path]),
    [['MatMulInteger', 'MLAS compiled to WASM SIMD (int32 sums)']],
    JSON.stringify(kernels),
  );
  for (const f of ['report.md', 'report.html', 'report.txt'])
    assert.match(readFileSync(path.join(at, 'out', f), 'utf8'), /onnxruntime-web-wasm 1\.\d+\.\d+/, f);
  const json = JSON.parse(readFileSync(path.join(at, 'out', 'report.json'), 'utf8'));
  assert.equal(json.target.runtime, 'onnxruntime-web-wasm');

  // kernelPaths on what the real quantize pass wrote: the ISA is an argument, so both x86 paths show here
  const q8 = await loadModel(path.join(at, 'out', 'step1-quantize.onnx'));
  const vnni = kernelPaths(q8, targetContext('cpu', 'cpu-x86-avx512-vnni'), 'avx512-vnni');
  const avx2 = kernelPaths(q8, targetContext('cpu', 'cpu-x86-avx2'), 'avx2');
  assert.equal(vnni.find((k) => k.opType === 'MatMulInteger')?.path, 'MLAS u8s8 GEMM, VPDPBUSD (int32 sums)');
  assert.equal(
    avx2.find((k) => k.opType === 'MatMulInteger')?.path,
    'MLAS u8s8 GEMM, VPMADDUBSW (int16 pair sums; weights within ±64 are exact)',
  );
});

test('target: absent runs for this machine (cpu): the report says it was measured here and names onnxruntime-node', async () => {
  const { tinyMlp } = await import('../fuzz/corpus.js');
  const { encodeModel } = await import('@shrink/core');
  const at = mkdtempSync(path.join(dir, 'target-cpu-'));
  writeFileSync(path.join(at, 'mlp.onnx'), encodeModel(tinyMlp()));
  const config = await validateConfig(
    { model: 'mlp.onnx', steps: [{ quantize: { dtype: 'q8', allowSlower: true } }], output: 'out', evaluation: { threads: 1 } },
    { file: 'c.yaml', dir: at },
  );
  const { report } = await runPipeline(config);
  const t = report.target!;
  assert.equal(t.name, 'cpu');
  assert.equal(t.runtime, 'onnxruntime-node');
  assert.equal(t.threads, 1);
  assert.equal(t.measured, true);
  assert.equal(t.isa, report.environment.isa);
  assert.match(t.measurement, /^measured on this machine \(.+\) in onnxruntime-node 1\.\d+\.\d+$/);
  assert.match(report.candidates[0]!.kernels![0]!.path, /^MLAS u8s8 GEMM, /);
});

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ShrinkError } from '../errors.js';
import { encodeModel } from '../onnx/codec.js';
import { onnx } from '../onnx/proto.js';
import { fileSizes } from './file-sizes.js';
import { loadModel } from './load-model.js';
import { saveModel, saveModelChecked } from './save-model.js';

const require = createRequire(import.meta.url);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const fresh = (): string => fs.mkdtempSync(path.join(root, 'case-'));

const T = onnx.TensorProto.DataType;
const N = 32;

/** Deterministic float32 values in [-1, 1). */
function floats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const raw = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const initializer = (name: string, dims: number[], values: Float32Array): onnx.ITensorProto => ({
  name,
  dims,
  dataType: T.FLOAT,
  rawData: raw(values),
});
const vi = (name: string, dims: number[]): onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: T.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
});

/**
 * Y = If(cond, then: MatMul(X, W) + B + C1, else: ... - C2). W (4 KiB) and the branch initializers
 * C1/C2 (2 KiB each, in subgraphs) reach the 1 KiB threshold; B (128 B) and cond stay inline.
 */
function model(): onnx.ModelProto {
  const branch = (name: string, op: string, c: onnx.ITensorProto): onnx.IGraphProto => ({
    name,
    initializer: [c],
    node: [{ opType: op, input: ['H', c.name!], output: [`${name}_out`] }],
    output: [vi(`${name}_out`, [16, N])],
  });
  const graphAttr = (name: string, g: onnx.IGraphProto): onnx.IAttributeProto => ({
    name,
    type: onnx.AttributeProto.AttributeType.GRAPH,
    g,
  });
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'shrink-test',
    opsetImport: [{ domain: '', version: 17 }],
    metadataProps: [{ key: 'k', value: 'v' }],
    graph: {
      name: 'g',
      input: [vi('X', [1, N])],
      output: [vi('Y', [16, N])],
      initializer: [
        initializer('W', [N, N], floats(N * N, 1)),
        initializer('B', [N], floats(N, 2)),
        { name: 'cond', dims: [], dataType: T.BOOL, rawData: new Uint8Array([1]) },
      ],
      node: [
        { opType: 'MatMul', input: ['X', 'W'], output: ['M'] },
        { opType: 'Add', input: ['M', 'B'], output: ['H'] },
        {
          opType: 'If',
          input: ['cond'],
          output: ['Y'],
          attribute: [
            graphAttr('then_branch', branch('then', 'Add', initializer('C1', [16, N], floats(16 * N, 3)))),
            graphAttr('else_branch', branch('else', 'Sub', initializer('C2', [16, N], floats(16 * N, 4)))),
          ],
        },
      ],
    },
  });
}

async function run(modelPathOrBytes: string | Uint8Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(modelPathOrBytes as string);
  const x = new ort.Tensor('float32', floats(N, 9), [1, N]);
  const out = await session.run({ X: x });
  await session.release();
  return out['Y']!.data as Float32Array;
}

const leftovers = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

test('inline save -> load keeps the model byte for byte and does not touch the input', async () => {
  const dir = fresh();
  const m = model();
  const before = encodeModel(m);
  const file = path.join(dir, 'model.onnx');
  const res = await saveModel(m, file);
  assert.deepEqual(res, { path: file, bytes: before.length });
  assert.deepEqual(encodeModel(m), before);
  assert.ok(fs.readFileSync(file).equals(before));
  const back = await loadModel(file);
  assert.deepEqual(encodeModel(back), before);
  assert.deepEqual(await fileSizes(file), { modelBytes: before.length, externalBytes: 0, totalBytes: before.length, externalFiles: [] });
  assert.deepEqual(leftovers(dir), []);
});

test('external data: big initializers (subgraphs too) go to model.onnx_data, aligned; loads back identical; onnxruntime agrees', async () => {
  const dir = fresh();
  const m = model();
  const before = encodeModel(m);
  const file = path.join(dir, 'model.onnx');
  const res = await saveModel(m, file, { externalData: true });
  const dataPath = path.join(dir, 'model.onnx_data');
  assert.equal(res.externalDataPath, dataPath);
  assert.equal(res.externalDataReason, 'requested');
  assert.equal(res.externalDataBytes, fs.statSync(dataPath).size);
  assert.equal(res.bytes, fs.statSync(file).size);
  assert.deepEqual(encodeModel(m), before, 'the input model is not mutated');

  // What the file says: W, C1, C2 external with 64-byte aligned offsets; B and cond inline.
  const saved = onnx.ModelProto.decode(fs.readFileSync(file));
  const ext = new Map<string, Record<string, string>>();
  const visit = (g: onnx.IGraphProto): void => {
    for (const t of g.initializer ?? []) {
      if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
        ext.set(t.name!, Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value])));
        assert.equal(t.rawData?.length ?? 0, 0);
      }
    }
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) if (a.g) visit(a.g);
  };
  visit(saved.graph!);
  assert.deepEqual([...ext.keys()].sort(), ['C1', 'C2', 'W']);
  for (const e of ext.values()) {
    assert.equal(e['location'], 'model.onnx_data');
    assert.equal(Number(e['offset']) % 64, 0);
  }
  assert.equal(ext.get('W')!['length'], String(N * N * 4));

  const back = await loadModel(file);
  assert.deepEqual(encodeModel(back), before, 'every tensor byte comes back, nothing else changes');
  const w = back.graph!.initializer![0]!.rawData!;
  assert.equal(w.byteOffset, 0, 'external tensors get their own aligned buffers');

  const inline = await run(before);
  const fromPath = await run(file);
  assert.deepEqual(Array.from(fromPath), Array.from(inline));
  const sizes = await fileSizes(file);
  assert.deepEqual(sizes, {
    modelBytes: res.bytes,
    externalBytes: res.externalDataBytes,
    totalBytes: res.bytes + res.externalDataBytes,
    externalFiles: [dataPath],
  });
  assert.deepEqual(leftovers(dir), []);
});

test('external data location and threshold are configurable; unsafe locations are refused', async () => {
  const dir = fresh();
  const m = model();
  const file = path.join(dir, 'm.onnx');
  const res = await saveModel(m, file, { externalData: { location: 'weights/all.bin', threshold: 100 } });
  assert.equal(res.externalDataPath, path.join(dir, 'weights', 'all.bin'));
  const saved = onnx.ModelProto.decode(fs.readFileSync(file));
  const external = saved.graph!.initializer!.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL).map((t) => t.name);
  assert.deepEqual(external, ['W', 'B']);
  assert.deepEqual(Array.from(await run(file)), Array.from(await run(encodeModel(m))));

  for (const location of ['../up.bin', path.join(dir, 'abs.bin')]) {
    await assert.rejects(saveModel(m, path.join(dir, 'x.onnx'), { externalData: { location } }), (e: unknown) => {
      assert.ok(e instanceof ShrinkError);
      assert.equal(e.code, 'UNSAFE_PATH');
      return true;
    });
  }
  assert.equal(fs.existsSync(path.join(dir, 'x.onnx')), false);
});

test('a model over the inline limit switches to external data by itself and says so', async () => {
  const dir = fresh();
  // 40 mid-size tensors (2 KiB each); with the limit scaled down from 2 GiB to 16 KiB.
  const tensors = Array.from({ length: 40 }, (_, i) => initializer(`T${i}`, [512], floats(512, 100 + i)));
  const m = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'many',
      initializer: tensors,
      node: tensors.map((t, i) => ({ opType: 'Identity', input: [t.name!], output: [`O${i}`] })),
      output: tensors.map((_, i) => vi(`O${i}`, [512])),
    },
  });
  const file = path.join(dir, 'big.onnx');
  const res = await saveModel(m, file, { inlineLimit: 16 << 10 });
  assert.equal(res.externalDataReason, 'over-limit');
  assert.ok(res.bytes < 16 << 10);
  assert.equal(res.externalDataBytes, 40 * 2048);
  assert.deepEqual(encodeModel(await loadModel(file)), encodeModel(m));
});

test('never overwrites an input (also through a link) unless forced', async () => {
  const dir = fresh();
  const m = model();
  const input = path.join(dir, 'model.onnx');
  await saveModel(m, input);
  const original = fs.readFileSync(input);
  const check = (e: unknown): boolean => {
    assert.ok(e instanceof ShrinkError);
    assert.equal(e.code, 'IO');
    assert.match(e.message, /refusing to overwrite input file .*model\.onnx.*choose another output path/);
    assert.equal((e as { option?: string }).option, 'force', 'the way around it is an option, which each front end names');
    return true;
  };
  await assert.rejects(saveModel(m, input, { inputs: [input], externalData: true }), check);
  fs.symlinkSync(input, path.join(dir, 'alias.onnx'));
  await assert.rejects(saveModel(m, path.join(dir, 'alias.onnx'), { inputs: [input] }), check);
  // The external data file is an output too.
  fs.writeFileSync(path.join(dir, 'out.onnx_data'), 'input data');
  await assert.rejects(
    saveModel(m, path.join(dir, 'out.onnx'), { inputs: [path.join(dir, 'out.onnx_data')], externalData: true }),
    /refusing to overwrite input file/,
  );
  assert.ok(fs.readFileSync(input).equals(original));
  assert.equal(fs.readFileSync(path.join(dir, 'out.onnx_data'), 'utf8'), 'input data');

  const res = await saveModel({ ...m, producerName: 'forced' }, input, { inputs: [input], force: true });
  assert.equal((await loadModel(res.path)).producerName, 'forced');
});

test('saving a model whose tensors still point at external files is refused', async () => {
  const dir = fresh();
  const m = model();
  m.graph!.initializer![0] = {
    name: 'W',
    dataType: T.FLOAT,
    dims: [N, N],
    dataLocation: 1,
    externalData: [{ key: 'location', value: 'w.bin' }],
  };
  await assert.rejects(saveModel(m, path.join(dir, 'x.onnx')), /tensor 'W' still refers to external data.*loadModel/);
});

test('saveModelChecked: the check sees the staged model (loadable, with its external data); only then do the files replace the old ones', async () => {
  const dir = fresh();
  const file = path.join(dir, 'out.onnx');
  fs.writeFileSync(file, 'old model');
  fs.writeFileSync(path.join(dir, 'out.onnx_data'), 'old data');
  // A failing check: the old files stay byte for byte, and no staging folder is left.
  await assert.rejects(
    saveModelChecked(model(), file, { externalData: true }, async (staged) => {
      assert.notEqual(staged.path, file);
      assert.equal(fs.readFileSync(file, 'utf8'), 'old model', 'replaced before the check');
      const s = await ort.InferenceSession.create(staged.path);
      await s.release();
      throw new ShrinkError('INVALID_MODEL', 'measuring failed');
    }),
    /measuring failed/,
  );
  assert.equal(fs.readFileSync(file, 'utf8'), 'old model');
  assert.equal(fs.readFileSync(path.join(dir, 'out.onnx_data'), 'utf8'), 'old data');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['out.onnx', 'out.onnx_data']);
  // A passing check: both files in place, the model loads with its data, nothing else left.
  const { saved, value } = await saveModelChecked(model(), file, { externalData: true }, async (staged) => staged.bytes);
  assert.equal(saved.path, file);
  assert.equal(saved.externalDataPath, path.join(dir, 'out.onnx_data'));
  assert.equal(value, saved.bytes);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['out.onnx', 'out.onnx_data']);
  const s = await ort.InferenceSession.create(file);
  await s.release();
  // Inline: checked as its temp file beside the target, then renamed over it; a failed check removes it.
  const inline = path.join(dir, 'inline.onnx');
  fs.writeFileSync(inline, 'old inline');
  await assert.rejects(
    saveModelChecked(model(), inline, {}, async (staged) => {
      assert.equal(path.dirname(staged.path), dir);
      const s = await ort.InferenceSession.create(staged.path);
      await s.release();
      throw new ShrinkError('INVALID_MODEL', 'measuring failed');
    }),
    /measuring failed/,
  );
  assert.equal(fs.readFileSync(inline, 'utf8'), 'old inline');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['inline.onnx', 'out.onnx', 'out.onnx_data']);
  assert.equal((await saveModelChecked(model(), inline, {}, async () => 0)).saved.path, inline);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['inline.onnx', 'out.onnx', 'out.onnx_data']);
  const s2 = await ort.InferenceSession.create(inline);
  await s2.release();
  // The final paths are still checked against the inputs.
  await assert.rejects(
    saveModelChecked(model(), file, { inputs: [file] }, async () => 0),
    /refusing to overwrite input file/,
  );
  await assert.rejects(
    saveModelChecked(model(), file, { inputs: [file], externalData: true }, async () => 0),
    /refusing to overwrite input file/,
  );
  assert.deepEqual(fs.readdirSync(dir).sort(), ['inline.onnx', 'out.onnx', 'out.onnx_data']);
});

/** The external_data locations a saved .onnx names. */
const locations = (file: string): string[] => {
  const out = new Set<string>();
  const visit = (g: onnx.IGraphProto): void => {
    for (const t of g.initializer ?? []) for (const e of t.externalData ?? []) if (e.key === 'location') out.add(e.value!);
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) if (a.g) visit(a.g);
  };
  visit(onnx.ModelProto.decode(fs.readFileSync(file)).graph!);
  return [...out];
};
/** A model like model() whose weights differ (old vs new pair). */
const other = (): onnx.ModelProto => {
  const m = model();
  m.graph!.initializer![0] = initializer('W', [N, N], floats(N * N, 77));
  return m;
};

test('replacing a model with external data: the new pair under the usual name, the old data gone, nothing else left', async () => {
  const dir = fresh();
  const file = path.join(dir, 'model.onnx');
  const first = await saveModel(model(), file, { externalData: true });
  assert.equal(first.externalDataPath, path.join(dir, 'model.onnx_data'));
  const res = await saveModel(other(), file, { externalData: true });
  assert.equal(res.externalDataPath, path.join(dir, 'model.onnx_data'));
  assert.equal(res.bytes, fs.statSync(file).size);
  assert.equal(res.externalDataBytes, fs.statSync(res.externalDataPath).size);
  assert.deepEqual(locations(file), ['model.onnx_data'], 'the .onnx names the usual data file, as transformers.js expects');
  assert.deepEqual(encodeModel(await loadModel(file)), encodeModel(other()));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx_data']);
  // A location in a subfolder: the fresh name lives beside it, and goes too.
  const sub = await saveModel(model(), file, { externalData: { location: 'w/all.bin' } });
  assert.equal(sub.externalDataPath, path.join(dir, 'w', 'all.bin'));
  await saveModel(other(), file, { externalData: { location: 'w/all.bin' } });
  assert.deepEqual(locations(file), ['w/all.bin']);
  assert.deepEqual(encodeModel(await loadModel(file)), encodeModel(other()));
  assert.deepEqual(fs.readdirSync(path.join(dir, 'w')), ['all.bin']);
  await assert.rejects(saveModel(model(), file, { externalData: { location: 'model.onnx' } }), /names the model file itself/);
});

test("after the commit the old model's <name>.onnx_data goes when the new model does not use it; never an input, never a file it did not use", async () => {
  const dir = fresh();
  const file = path.join(dir, 'model.onnx');
  const data = path.join(dir, 'model.onnx_data');
  // Inline over external.
  await saveModel(model(), file, { externalData: true });
  await saveModel(other(), file);
  assert.deepEqual(fs.readdirSync(dir), ['model.onnx']);
  // Another location over the usual one: the usual one goes, the new one stays.
  await saveModel(model(), file, { externalData: true });
  await saveModel(other(), file, { externalData: { location: 'w.bin' } });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'w.bin']);
  // The usual one over another location: a data file of another name stays (another model may share it).
  await saveModel(model(), file, { externalData: true });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx_data', 'w.bin']);
  // An input is never removed, even when nothing uses it any more.
  await saveModel(other(), file, { inputs: [file, data], force: true });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx_data', 'w.bin']);
  // A model.onnx_data the old model did not use (it was inline) is not its data: it stays.
  fs.writeFileSync(data, 'not model data');
  await saveModel(model(), file);
  assert.equal(fs.readFileSync(data, 'utf8'), 'not model data');
  assert.deepEqual(encodeModel(await loadModel(file)), encodeModel(model()));
});

test("a save removes the temporaries killed saves of the same model left (pid gone), never a running writer's or another file's", async () => {
  const dir = fresh();
  const file = path.join(dir, 'model.onnx');
  await saveModel(model(), file, { externalData: true });
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  const live = process.ppid;
  const stale = [
    `.model.onnx.${dead}.0123456789ab.tmp`,
    `.model.onnx_data.${dead}.0123456789ab.tmp`,
    `.model.onnx_data.${dead}.0123456789ab.new`,
    `.model.onnx.${dead}.0123456789ab.stage`,
  ];
  const kept = [
    `.model.onnx.${live}.0123456789ab.tmp`,
    `.model.onnx_data.${process.pid}.0123456789ab.new`,
    `.model.onnx.${live}.0123456789ab.stage`,
    `.other.onnx.${dead}.0123456789ab.tmp`,
    `.model.onnx.${dead}.not-random.tmp`,
    `model.onnx.${dead}.0123456789ab.tmp`,
    `.model.onnx.${dead}.0123456789ab.stage.tmp`,
  ];
  for (const f of [...stale, ...kept]) {
    if (f.endsWith('.stage')) {
      fs.mkdirSync(path.join(dir, f));
      fs.writeFileSync(path.join(dir, f, 'model.onnx_data'), 'staged');
    } else {
      fs.writeFileSync(path.join(dir, f), 'left');
    }
  }
  // A stage-named file and a tmp-named folder are not what Shrink makes: left alone.
  fs.writeFileSync(path.join(dir, `.model.onnx.${dead}.111111111111.stage`), 'a file');
  fs.mkdirSync(path.join(dir, `.model.onnx.${dead}.111111111111.tmp`));
  kept.push(`.model.onnx.${dead}.111111111111.stage`, `.model.onnx.${dead}.111111111111.tmp`);
  // Named as an input: kept although its writer is gone.
  const input = `.model.onnx.${dead}.222222222222.tmp`;
  fs.writeFileSync(path.join(dir, input), 'input');
  kept.push(input);

  await saveModel(other(), file, { externalData: true, inputs: [path.join(dir, input)] });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx_data', ...kept].sort());
  // An inline save cleans the same names (its own and those of its usual data file).
  fs.writeFileSync(path.join(dir, stale[2]!), 'left');
  await saveModel(model(), file);
  assert.ok(!fs.existsSync(path.join(dir, stale[2]!)));
});

test('without hard links the data is copied to its usual name; when that fails too, the model keeps the fresh name it was committed with', async () => {
  const dir = fresh();
  const file = path.join(dir, 'model.onnx');
  await saveModel(model(), file, { externalData: true });
  const fsp = require('node:fs/promises') as Record<string, unknown>;
  const original = { link: fsp['link'], copyFile: fsp['copyFile'] };
  const calls: string[] = [];
  const fail = (code: string) => async (from: string) => {
    calls.push(`${code} ${path.basename(from)}`);
    throw Object.assign(new Error(`${code}: simulated`), { code });
  };
  try {
    fsp['link'] = fail('EPERM');
    syncBuiltinESMExports();
    const res = await saveModel(other(), file, { externalData: true });
    assert.equal(res.externalDataPath, path.join(dir, 'model.onnx_data'));
    assert.deepEqual(locations(file), ['model.onnx_data']);
    assert.deepEqual(encodeModel(await loadModel(file)), encodeModel(other()));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx_data']);
    assert.equal(calls.length, 1, 'the hard link was tried');

    fsp['copyFile'] = fail('ENOSPC');
    syncBuiltinESMExports();
    const kept = await saveModel(model(), file, { externalData: true });
    assert.match(path.basename(kept.externalDataPath!), new RegExp(`^\\.model\\.onnx_data\\.${process.pid}\\.[0-9a-f]{12}\\.new$`));
    assert.equal(path.dirname(kept.externalDataPath!), dir);
    assert.deepEqual(locations(file), [path.basename(kept.externalDataPath!)]);
    assert.equal(kept.bytes, fs.statSync(file).size);
    assert.deepEqual(encodeModel(await loadModel(file)), encodeModel(model()));
    assert.deepEqual(Array.from(await run(file)), Array.from(await run(encodeModel(model()))));
    assert.deepEqual(
      calls.slice(1).map((c) => c.split(' ')[0]),
      ['EPERM', 'ENOSPC'],
    );
  } finally {
    Object.assign(fsp, original);
    syncBuiltinESMExports();
  }
  // The next save gives the data its usual name again.
  await saveModel(other(), file, { externalData: true });
  assert.deepEqual(locations(file), ['model.onnx_data']);
  assert.deepEqual(encodeModel(await loadModel(file)), encodeModel(other()));
});

test('saveModelChecked with external data: the check sees the final .onnx bytes and the data under its usual name; a failed check leaves no .new file', async () => {
  const dir = fresh();
  const file = path.join(dir, 'model.onnx');
  await saveModel(model(), file, { externalData: true });
  const { saved, value } = await saveModelChecked(other(), file, { externalData: true }, async (staged) => {
    assert.equal(path.basename(staged.externalDataPath!), 'model.onnx_data');
    assert.equal(path.dirname(staged.externalDataPath!), path.dirname(staged.path));
    assert.deepEqual(locations(staged.path), ['model.onnx_data']);
    assert.deepEqual(encodeModel(await loadModel(file)), encodeModel(model()), 'the old pair is untouched during the check');
    return { bytes: staged.bytes, staged: fs.readFileSync(staged.path) };
  });
  assert.equal(saved.bytes, value.bytes);
  assert.ok(fs.readFileSync(file).equals(value.staged), 'the checked .onnx is the one in place');
  await assert.rejects(
    saveModelChecked(model(), file, { externalData: true }, async () => {
      throw new ShrinkError('INVALID_MODEL', 'measuring failed');
    }),
    /measuring failed/,
  );
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx_data']);
  assert.deepEqual(encodeModel(await loadModel(file)), encodeModel(other()));
});

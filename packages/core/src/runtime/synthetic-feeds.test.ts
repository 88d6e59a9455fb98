import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { isShrinkError } from '../errors.js';
import { attr, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { createRng } from '../data/rng.js';
import { parseNpy } from '../data/npy.js';
import { compareModels } from './profile.js';
import { createSession } from './session.js';
import { syntheticFeedSet } from './synthetic-feeds.js';
import { readFeedSet, readInputValue } from './feeds-file.js';
import { feedSetFor } from './measure-feeds.js';
import { fidelityOnFeeds } from './feed-fidelity.js';

const VOCAB = 50;

/**
 * A small model shaped like the ones people bring: int64 token ids into an embedding table, an int64
 * attention mask, and an int64 sample rate that an If compares with 16000 (as silero VAD does); two outputs.
 */
function tokenModel(scale = 1, elseOp = 'Neg') {
  const rng = createRng(1);
  const table = Float32Array.from({ length: VOCAB * 8 }, () => rng.next() - 0.5);
  const w = Float32Array.from({ length: 8 * 4 }, () => (rng.next() - 0.5) * scale);
  const branch = (op: string) =>
    makeGraph({
      name: op,
      nodes: [makeNode(op, op === 'Reshape' ? ['h', 'bad_shape'] : ['h'], ['b'])],
      inputs: [],
      outputs: [makeValueInfo('b', 'float32')],
    });
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Gather', ['table', 'input_ids'], ['emb']),
        makeNode('Cast', ['attention_mask'], ['maskf'], { to: 1 }),
        makeNode('Unsqueeze', ['maskf', 'axes'], ['mask3']),
        makeNode('Mul', ['emb', 'mask3'], ['masked']),
        makeNode('MatMul', ['masked', 'W'], ['h']),
        makeNode('Equal', ['sr', 'rate'], ['is16k']),
        makeNode('If', ['is16k'], ['hidden'], { then_branch: attr.graph(branch('Identity')), else_branch: attr.graph(branch(elseOp)) }),
        makeNode('ReduceSum', ['hidden', 'axes'], ['pooled'], { keepdims: 0 }),
      ],
      inputs: [
        makeValueInfo('input_ids', 'int64', ['batch_size', 'sequence_length']),
        makeValueInfo('attention_mask', 'int64', ['batch_size', 'sequence_length']),
        makeValueInfo('sr', 'int64', []),
      ],
      outputs: [
        makeValueInfo('hidden', 'float32', ['batch_size', 'sequence_length', 4]),
        makeValueInfo('pooled', 'float32', ['batch_size', 4]),
      ],
      initializers: [
        makeTensor('table', 'float32', [VOCAB, 8], table),
        makeTensor('W', 'float32', [8, 4], w),
        makeTensor('axes', 'int64', [1], new BigInt64Array([-1n])),
        makeTensor('rate', 'int64', [], new BigInt64Array([16000n])),
        // 16 × 4 values per sample cannot be 7 rows: the else-branch's Reshape fails at run time.
        makeTensor('bad_shape', 'int64', [2], new BigInt64Array([7n, -1n])),
      ],
    }),
    { opset: 13 },
  );
}

test('syntheticFeedSet: token ids within the table, a mask of ones, the sample rate the graph compares with', async () => {
  const model = tokenModel();
  const s = await createSession(model, { threads: 1 });
  try {
    const set = syntheticFeedSet(s, model, { count: 3, seed: 7 });
    assert.equal(set.samples.length, 3);
    assert.equal(set.synthetic, true);
    const f = set.samples[0]! as Record<string, { data: BigInt64Array; dims: number[] }>;
    assert.deepEqual(f['input_ids']!.dims, [1, 16]);
    assert.deepEqual(f['attention_mask']!.dims, [1, 16]);
    assert.deepEqual(f['sr']!.dims, []);
    assert.ok([...f['input_ids']!.data].every((v) => v >= 0n && v < BigInt(VOCAB)));
    assert.ok(new Set(f['input_ids']!.data).size > 3, 'ids vary');
    assert.ok([...f['attention_mask']!.data].every((v) => v === 1n));
    assert.equal(f['sr']!.data[0], 16000n);
    assert.match(set.name, /batch_size=1, sequence_length=16/);
    assert.match(set.name, /input_ids: token ids < 50/);
    assert.match(set.name, /sr: 16000 \(compared with it/);
    // The feeds run: outputs come from the If's then-branch.
    const out = await s.run(set.samples[0]!);
    assert.deepEqual(out['hidden']!.dims, [1, 16, 4]);
  } finally {
    await s.release();
  }
});

test('compareModels: a multi-input int64 model is compared without data, over every output', async () => {
  const base = tokenModel(1);
  const cand = tokenModel(1.05); // every weight 5 % larger: cosine 1, relative L2 0.05
  const cmp = await compareModels({ name: 'base', model: base }, [{ name: 'cand', model: cand }], { runs: 2, warmup: 0, threads: 1 });
  const fid = cmp.candidates[0]!.fidelity!;
  assert.deepEqual(
    fid.outputs.map((o) => o.name),
    ['hidden', 'pooled'],
  );
  for (const o of fid.outputs) {
    assert.ok(Math.abs(o.cosineSimilarity - 1) < 1e-5, `${o.name} cosine ${o.cosineSimilarity}`);
    assert.ok(Math.abs(o.relativeL2 - 0.05) < 1e-4, `${o.name} relL2 ${o.relativeL2}`);
  }
  const m = cmp.report.candidates[0]!.metrics;
  assert.ok(Math.abs(m['fidelity.relativeL2']!.candidate! - 0.05) < 1e-4);
  assert.match(cmp.report.notes.join(' '), /8 synthetic samples at batch_size=1, sequence_length=16/);
});

/** An .npy as numpy.save writes it (version 1.0 header, padded to 64 bytes). */
function npy(descr: string, dims: number[], data: ArrayBufferView): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

test('parseNpy reads what numpy.save writes; refuses big-endian and truncated files in one line', () => {
  const a = parseNpy(npy('<i8', [2, 3], new BigInt64Array([1n, 2n, 3n, 4n, 5n, 6n])), 'a.npy');
  assert.equal(a.dtype, 'int64');
  assert.deepEqual(a.dims, [2, 3]);
  assert.equal((a.data as BigInt64Array)[5], 6n);
  const f = parseNpy(npy('<f4', [3], new Float32Array([0.5, -1, 2])), 'f.npy');
  assert.deepEqual([...(f.data as Float32Array)], [0.5, -1, 2]);
  for (const [bytes, why] of [
    [npy('>f4', [1], new Float32Array([1])), /big-endian/],
    [npy('<f4', [4], new Float32Array([1])), /needs 16/],
  ] as const) {
    assert.throws(
      () => parseNpy(bytes, 'x.npy'),
      (e: unknown) => isShrinkError(e) && why.test(e.message) && !e.message.includes('\n'),
    );
  }
});

test('readFeedSet: .npz, JSON and a folder; inputs left out are made up and named; unknown names refused', async () => {
  const model = tokenModel();
  const s = await createSession(model, { threads: 1 });
  const dir = await mkdtemp(path.join(tmpdir(), 'shrink-feeds-'));
  try {
    const ids = new BigInt64Array([3n, 1n, 4n, 1n, 5n]);
    const npz = zipSync({ 'input_ids.npy': npy('<i8', [1, 5], ids), 'sr.npy': npy('<i8', [], new BigInt64Array([16000n])) });
    await writeFile(path.join(dir, 'a.npz'), npz);
    const set = await readFeedSet(path.join(dir, 'a.npz'), s, model);
    assert.equal(set.samples.length, 1);
    assert.match(set.name, /not given, made up: attention_mask/);
    const f = set.samples[0]! as Record<string, { data: BigInt64Array; dims: number[] }>;
    assert.deepEqual([...f['input_ids']!.data], [...ids]);
    // The mask follows the given ids' sequence length.
    assert.deepEqual(f['attention_mask']!.dims, [1, 5]);
    await s.run(set.samples[0]!);

    // JSON: an array of samples; a sample without the batch axis gets one.
    const folder = path.join(dir, 'folder');
    await mkdir(folder);
    await writeFile(
      path.join(folder, '1.json'),
      JSON.stringify([
        { input_ids: [7, 8], sr: 16000 },
        { input_ids: [[9, 9, 9]], sr: 8000 },
      ]),
    );
    await writeFile(path.join(folder, '2.npz'), npz);
    const many = await readFeedSet(folder, s, model);
    assert.equal(many.samples.length, 3);
    const j = many.samples[1]! as Record<string, { data: BigInt64Array; dims: number[] }>;
    assert.deepEqual(j['input_ids']!.dims, [1, 3]);
    assert.equal(j['sr']!.data[0], 8000n);

    await writeFile(path.join(dir, 'bad.json'), JSON.stringify({ input_idz: [1, 2] }));
    await assert.rejects(readFeedSet(path.join(dir, 'bad.json'), s, model), (e: unknown) => {
      assert.ok(isShrinkError(e));
      assert.match(e.message, /'input_idz' is not an input of the model; its inputs: input_ids, attention_mask, sr/);
      return true;
    });
    await writeFile(path.join(dir, 'ragged.json'), JSON.stringify({ input_ids: [[1, 2], [3]] }));
    await assert.rejects(readFeedSet(path.join(dir, 'ragged.json'), s, model), /ragged array/);
  } finally {
    await s.release();
  }
});

test('--input values: a number fills a scalar input in every sample; an unknown input is refused by name', async () => {
  const model = tokenModel();
  const s = await createSession(model, { threads: 1 });
  try {
    const { name, value } = await readInputValue('sr=8000');
    const set = await feedSetFor(s, model, { feeds: { inputs: { [name]: value } } });
    assert.ok(set);
    for (const f of set.samples) assert.equal((f['sr'] as { data: BigInt64Array }).data[0], 8000n);
    assert.match(set.name, /sr: given/);
    const other = await readInputValue('nope=[1,2]');
    await assert.rejects(feedSetFor(s, model, { feeds: { inputs: { nope: other.value } } }), /--input nope: the model has no input 'nope'/);
    await assert.rejects(readInputValue('sr'), /expected NAME=VALUE/);
  } finally {
    await s.release();
  }
});

test('a model that fails on made-up inputs says what they were and that real ones can be given', async () => {
  // The else-branch (taken for any rate but 16000) cannot run, as silero VAD's cannot for a wrong rate.
  const model = tokenModel(1, 'Reshape');
  const ok = await compareModels({ name: 'm', model }, [{ name: 'c', model }], { runs: 2, warmup: 0, threads: 1 });
  assert.equal(ok.candidates.length, 1);
  const { value } = await readInputValue('sr=8000');
  await assert.rejects(
    compareModels({ name: 'm', model }, [{ name: 'c', model }], { runs: 2, warmup: 0, threads: 1, feeds: { inputs: { sr: value } } }),
    (e: unknown) => {
      assert.ok(isShrinkError(e));
      assert.equal(e.code, 'RUNTIME');
      assert.match(e.message, /it ran on 8 synthetic samples at .*sr: given.*: give the model real inputs/);
      return true;
    },
  );
});

test('fidelityOnFeeds stops at its time budget after the minimum samples, and n says how many it compared', async () => {
  const model = tokenModel();
  const s = await createSession(model, { threads: 1 });
  try {
    const set = syntheticFeedSet(s, model, { count: 6 });
    assert.equal((await fidelityOnFeeds(s, s, set)).n, 6);
    const quick = await fidelityOnFeeds(s, s, set, undefined, { maxTimeMs: 0, minSamples: 2 });
    assert.equal(quick.n, 2);
    assert.equal(quick.cosineSimilarity, 1);
  } finally {
    await s.release();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeModel } from '../onnx/codec.js';
import { createSession, type FeedTensor, type Outputs, type Session } from './session.js';

// The transformer fixtures that fixtures/transformers/make-transformers.py exported with torch 1.13, run in
// onnxruntime-node on the feeds torch ran on, against torch's outputs.
const DIR = fileURLToPath(new URL('../../../../fixtures/transformers/', import.meta.url));

// torch and onnxruntime agree to about 1e-6 of an output's scale (measured: at most 5e-6 over these fixtures);
// the references hold 6 significant digits. 1e-4 leaves room for other kernels (AVX2, AVX512, NEON) and is still
// far below what one sample differs from another (checked below), so a broken graph cannot pass.
const REL_TOL = 1e-4;

interface ValueSpec {
  readonly name: string;
  readonly dtype: 'float32' | 'int64';
  readonly shape: readonly (number | string)[];
}

interface ManifestEntry {
  readonly sha256: string;
  readonly bytes: number;
  readonly opset: number;
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly feeds: string;
  readonly reference: string;
  readonly description: string;
}

type Nested = number | readonly Nested[];

interface Dense {
  readonly values: number[];
  readonly dims: number[];
}

const manifest = JSON.parse(readFileSync(`${DIR}manifest.json`, 'utf8')) as Record<string, ManifestEntry>;

/** A nested JSON array as flat values and dims; throws on ragged nesting, which no feeds file may hold. */
function dense(x: Nested, where: string): Dense {
  const dims: number[] = [];
  for (let v: Nested = x; Array.isArray(v); v = (v as readonly Nested[])[0]!) dims.push((v as readonly Nested[]).length);
  const values: number[] = [];
  const walk = (v: Nested, depth: number): void => {
    if (depth === dims.length) {
      assert.equal(typeof v, 'number', `${where}: a leaf at depth ${depth} is not a number`);
      values.push(v as number);
      return;
    }
    assert.ok(Array.isArray(v) && v.length === dims[depth], `${where}: ragged at depth ${depth}`);
    for (const e of v as readonly Nested[]) walk(e, depth + 1);
  };
  walk(x, 0);
  return { values, dims };
}

function toFeed(d: Dense, dtype: ValueSpec['dtype']): FeedTensor {
  const data = dtype === 'int64' ? BigInt64Array.from(d.values, (v) => BigInt(v)) : Float32Array.from(d.values);
  return { data, dims: d.dims };
}

/** `times` copies of the batch along axis 0: every input of these fixtures has its batch there. */
function repeatBatch(d: Dense, times: number): Dense {
  return { values: Array.from({ length: times }, () => d.values).flat(), dims: [d.dims[0]! * times, ...d.dims.slice(1)] };
}

/** The batch in reverse order along axis 0. */
function reverseBatch(d: Dense): Dense {
  const per = d.values.length / d.dims[0]!;
  const values: number[] = [];
  for (let b = d.dims[0]! - 1; b >= 0; b--) values.push(...d.values.slice(b * per, (b + 1) * per));
  return { values, dims: d.dims };
}

function maxAbs(values: readonly number[]): number {
  return values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function load(name: string, entry: ManifestEntry) {
  const feedsJson = JSON.parse(readFileSync(`${DIR}${entry.feeds}`, 'utf8')) as Record<string, Nested>;
  const refJson = JSON.parse(readFileSync(`${DIR}${entry.reference}`, 'utf8')) as Record<string, Nested>;
  const feeds = new Map(
    entry.inputs.map((i) => [i.name, dense(feedsJson[i.name] ?? assert.fail(`${name}: feeds lack '${i.name}'`), i.name)]),
  );
  const ref = new Map(
    entry.outputs.map((o) => [o.name, dense(refJson[o.name] ?? assert.fail(`${name}: reference lacks '${o.name}'`), o.name)]),
  );
  assert.deepEqual(Object.keys(feedsJson).sort(), [...feeds.keys()].sort(), `${name}: feeds name exactly the model's inputs`);
  return { feeds, ref };
}

async function run(session: Session, entry: ManifestEntry, feeds: ReadonlyMap<string, Dense>): Promise<Outputs> {
  return session.run(Object.fromEntries(entry.inputs.map((i) => [i.name, toFeed(feeds.get(i.name)!, i.dtype)])));
}

function compare(name: string, out: Outputs, ref: ReadonlyMap<string, Dense>, copies = 1): void {
  for (const [oname, r] of ref) {
    const got = out[oname];
    assert.ok(got !== undefined, `${name}: no output '${oname}'`);
    const want = repeatBatch(r, copies);
    assert.deepEqual([...got.dims], want.dims, `${name} '${oname}': dims`);
    const tol = REL_TOL * maxAbs(r.values);
    const err = maxAbsDiff(got.data as Float32Array, want.values);
    assert.ok(err <= tol, `${name} '${oname}': max abs error ${err.toExponential(2)} > ${tol.toExponential(2)}`);
  }
}

test('the manifest lists the five transformer fixtures', () => {
  assert.deepEqual(Object.keys(manifest).sort(), [
    'bert-tiny.onnx',
    'gpt-tiny-past.onnx',
    'gpt-tiny.onnx',
    'vit-tiny.onnx',
    'whisper-tiny-encoder.onnx',
  ]);
});

for (const [name, entry] of Object.entries(manifest)) {
  test(`${name}: onnxruntime matches torch on the committed feeds`, async () => {
    const bytes = readFileSync(`${DIR}${name}`);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), entry.sha256, `${name}: SHA-256 differs from manifest.json`);
    const model = decodeModel(bytes, name);
    const opset = model.opsetImport.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx')?.version;
    assert.equal(Number(opset), entry.opset, `${name}: opset`);

    const { feeds, ref } = load(name, entry);
    // The tolerance must be able to fail: the samples of one batch differ by far more than it allows.
    for (const [oname, r] of ref) {
      const apart = maxAbsDiff(r.values, reverseBatch(r).values);
      assert.ok(apart > 100 * REL_TOL * maxAbs(r.values), `${name} '${oname}': samples too alike (${apart}) to tell a broken graph apart`);
    }

    const session = await createSession(bytes, { threads: 1, label: name });
    try {
      assert.deepEqual(
        session.inputs.map((m) => ({ name: m.name, dtype: m.type, shape: m.shape })),
        entry.inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape })),
        `${name}: inputs`,
      );
      assert.deepEqual(
        session.outputNames,
        entry.outputs.map((o) => o.name),
        `${name}: outputs`,
      );
      compare(name, await run(session, entry, feeds), ref);
      // A dynamic batch: the same samples twice over give the same outputs twice over.
      const doubled = new Map([...feeds].map(([k, v]) => [k, repeatBatch(v, 2)]));
      compare(`${name} (batch x2)`, await run(session, entry, doubled), ref, 2);
    } finally {
      await session.release();
    }
  });
}

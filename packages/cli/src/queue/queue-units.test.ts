// The queue's pieces without Redis: URL parsing and redaction, the job schema's refusals, and the
// content-addressed store refusing anything that would leave it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FolderStore, getTree, openStore, putTree, S3Store, sha256 } from './artifact-store.js';
import { parseRedisUrl, redactor, redactUrl } from './redis-url.js';
import { canonicalJson, codeVersion, PROTOCOL, queueNameOf, resultKeyOf, trialJobSchema } from './trial-job.js';

test('redis URLs: password, user, db and TLS parsed; the display and every error hide the password', () => {
  const t = parseRedisUrl('rediss://alice:s%40cret@redis.example:6380/3');
  assert.deepEqual(
    { host: t.host, port: t.port, db: t.db, user: t.username, password: t.password, tls: t.tls },
    { host: 'redis.example', port: 6380, db: 3, user: 'alice', password: 's@cret', tls: true },
  );
  assert.equal(t.display, 'rediss://alice:***@redis.example:6380/3');
  const plain = parseRedisUrl('redis://127.0.0.1');
  assert.equal(plain.port, 6379);
  assert.equal(plain.tls, false);
  assert.equal(plain.display, 'redis://127.0.0.1');
  for (const bad of ['http://u:hunter2@h:1', 'redis://:hunter2@h:1/x', 'not a url hunter2@', 'redis://:hunter2@h:1/0?x=1']) {
    assert.throws(
      () => parseRedisUrl(bad),
      (e: Error) => /--queue: /.test(e.message) && !e.message.includes('hunter2'),
      bad,
    );
  }
});

test('redaction: the password, percent-encoded or not, and user info in any URL', () => {
  const r = redactor(['p@ss:word']);
  assert.equal(r('AUTH p@ss:word failed; url redis://u:p%40ss%3Aword@h:1'), 'AUTH *** failed; url redis://u:***@h:1');
  assert.equal(redactUrl('see rediss://:abc@host:1/0 and s3://b/k'), 'see rediss://:***@host:1/0 and s3://b/k');
});

const HASH = 'a'.repeat(64);
const job = (over: Record<string, unknown> = {}) => ({
  protocol: PROTOCOL,
  code: codeVersion(),
  search: 'shrink-x-0123456789ab',
  resultKey: HASH,
  name: 't1-q8',
  steps: [{ quantize: { dtype: 'q8' } }],
  model: { tree: HASH, file: 'model.onnx' },
  data: { eval: { preset: 'digits' } },
  measure: { batch: 1, evalBatch: 64, target: 'cpu' },
  ...over,
});

test('the job schema: a valid trial parses with the pass defaults; code, unknown passes and paths are refused', () => {
  const ok = trialJobSchema.parse(job());
  assert.equal((ok.steps[0] as { quantize: { dtype: string } }).quantize.dtype, 'q8');
  const refused = (over: Record<string, unknown>) => assert.equal(trialJobSchema.safeParse(job(over)).success, false, JSON.stringify(over));
  refused({ steps: [{ exec: { cmd: 'rm -rf /' } }] });
  refused({ steps: [{ quantize: { dtype: 'q8', onLoad: 'process.exit()' } }] });
  refused({ steps: [{ quantize: { dtype: 'q7' } }] });
  refused({ model: { tree: HASH, file: '../../etc/passwd' } });
  refused({ model: { tree: '../x', file: 'model.onnx' } });
  refused({ data: { eval: { preset: '/etc/passwd' } } });
  refused({ search: 'a b' });
  refused({ protocol: PROTOCOL + 1 });
  refused({ extra: 1 });
});

test('keys: canonical JSON (option order does not matter); queue names from the config file', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 0 }] } }), '{"a":{"c":[3,{"e":0,"f":1}],"d":2},"b":1}');
  const parts = {
    code: 'c',
    model: { tree: HASH, file: 'm.onnx' },
    data: {},
    measure: { batch: 1, evalBatch: 64, target: 'cpu' as const },
  };
  assert.equal(
    resultKeyOf({ ...parts, steps: [{ kind: 'quantize', options: { dtype: 'q8', perChannel: true } }] }),
    resultKeyOf({ ...parts, steps: [{ kind: 'quantize', options: { perChannel: true, dtype: 'q8' } }] }),
  );
  assert.equal(queueNameOf('/a/My Search.yaml', HASH), 'shrink-my-search-aaaaaaaaaaaa');
});

test('the folder store: trees round-trip by content; bad keys, damaged blobs and escaping paths are refused', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-store-'));
  try {
    const store = new FolderStore(path.join(dir, 'store'));
    mkdirSync(path.join(dir, 'data', 'sub'), { recursive: true });
    writeFileSync(path.join(dir, 'data', 'a.bin'), 'A');
    writeFileSync(path.join(dir, 'data', 'sub', 'b.bin'), 'B');
    const tree = await putTree(store, path.join(dir, 'data'));
    assert.equal(await putTree(store, path.join(dir, 'data')), tree, 'same content, same hash');
    const got = await getTree(store, tree, path.join(dir, 'cache'));
    assert.equal(readFileSync(path.join(got, 'sub', 'b.bin'), 'utf8'), 'B');

    await assert.rejects(store.put('../../x', Buffer.from('x')), /refused key/);
    await assert.rejects(store.get('blobs/../../etc/passwd'), /refused key/);
    // A manifest stored under its own hash that points outside the tree's folder.
    const body = Buffer.from('evil');
    await store.put(`blobs/${sha256(body)}`, body);
    const evil = JSON.stringify({ files: [{ path: '../escaped', sha256: sha256(body), bytes: 4 }] });
    await store.put(`trees/${sha256(evil)}.json`, Buffer.from(evil));
    await assert.rejects(getTree(store, sha256(evil), path.join(dir, 'cache')), /climbs out/);
    // A blob whose bytes changed after it was stored.
    const one = await putTree(store, path.join(dir, 'data', 'a.bin'));
    writeFileSync(path.join(dir, 'store', 'blobs', sha256('A')), 'tampered');
    await assert.rejects(getTree(store, one, path.join(dir, 'cache2')), /damaged/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store specs: a folder, s3://bucket/prefix, and nothing else', () => {
  assert.ok(openStore('/tmp/x') instanceof FolderStore);
  const s3 = openStore('s3://my-bucket/shrink/runs');
  assert.ok(s3 instanceof S3Store);
  assert.equal((s3 as S3Store).bucket, 'my-bucket');
  assert.equal((s3 as S3Store).prefix, 'shrink/runs');
  assert.throws(() => openStore('http://h/x'), /--store/);
});

test('the S3 store: keys under the prefix, missing objects as undefined, trees round-trip (a stand-in for the SDK client)', async () => {
  const objects = new Map<string, Buffer>();
  const sent: string[] = [];
  const notFound = (name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 404 } });
  const send = async (cmd: unknown) => {
    const { Bucket, Key, Body } = (cmd as { input: { Bucket: string; Key: string; Body?: Buffer } }).input;
    const kind = (cmd as object).constructor.name;
    sent.push(`${kind} ${Bucket}/${Key}`);
    if (kind === 'PutObjectCommand') return void objects.set(Key, Body!);
    const body = objects.get(Key);
    if (!body) throw notFound(kind === 'HeadObjectCommand' ? 'NotFound' : 'NoSuchKey');
    return kind === 'HeadObjectCommand' ? {} : { Body: { transformToByteArray: async () => new Uint8Array(body) } };
  };
  const store = new S3Store('bucket', 'runs/x', undefined, send);
  assert.equal(await store.get(`blobs/${HASH}`), undefined);
  assert.equal(await store.has(`blobs/${HASH}`), false);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-s3-'));
  try {
    writeFileSync(path.join(dir, 'model.onnx'), 'bytes');
    const tree = await putTree(store, path.join(dir, 'model.onnx'));
    assert.ok(sent.includes(`PutObjectCommand bucket/runs/x/blobs/${sha256('bytes')}`), sent.join('\n'));
    const got = await getTree(store, tree, path.join(dir, 'cache'));
    assert.equal(readFileSync(path.join(got, 'model.onnx'), 'utf8'), 'bytes');
    await assert.rejects(store.put('../../etc/x', Buffer.from('')), /refused key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShrinkError, type ShrinkErrorCode } from '../errors.js';
import { encodeModel } from '../onnx/codec.js';
import { onnx } from '../onnx/proto.js';
import { fileSizes } from './file-sizes.js';
import { loadModel } from './load-model.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const fresh = (): string => fs.mkdtempSync(path.join(root, 'case-'));

const T = onnx.TensorProto.DataType;
const W_BYTES = new Uint8Array(Array.from({ length: 64 }, (_, i) => i * 3));

/** A one-initializer model whose W lives in an external file at `location`. */
function externalModel(location: string, extra: onnx.IStringStringEntryProto[] = []): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'g',
      initializer: [
        {
          name: 'W',
          dims: [16],
          dataType: T.FLOAT,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [{ key: 'location', value: location }, ...extra],
        },
      ],
      node: [{ opType: 'Identity', input: ['W'], output: ['Y'] }],
    },
  });
}

function fails(code: ShrinkErrorCode, ...patterns: RegExp[]): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof ShrinkError, String(e));
    assert.equal(e.code, code, e.message);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  };
}

test('a missing file is NOT_FOUND, a folder INVALID_ARGUMENT, both naming the path', async () => {
  const dir = fresh();
  await assert.rejects(loadModel(path.join(dir, 'nope.onnx')), fails('NOT_FOUND', /model file not found: .*nope\.onnx/));
  await assert.rejects(loadModel(dir), fails('INVALID_ARGUMENT', /is a folder; expected an \.onnx model file/));
});

test('truncated files and random bytes are INVALID_MODEL naming the file', async () => {
  const dir = fresh();
  const good = externalModel('w.bin');
  const truncated = path.join(dir, 'truncated.onnx');
  fs.writeFileSync(truncated, good.subarray(0, good.length - 7));
  await assert.rejects(loadModel(truncated), fails('INVALID_MODEL', /truncated\.onnx: not an ONNX model \(truncated or corrupt/));
  const junk = path.join(dir, 'junk.onnx');
  fs.writeFileSync(junk, Buffer.from('PK\u0003\u0004 this is a zip, not a model, really'));
  await assert.rejects(loadModel(junk), fails('INVALID_MODEL', /junk\.onnx: not an ONNX model/));
});

test('external data is read in, made inline, and the model is self-contained', async () => {
  const dir = fresh();
  const data = new Uint8Array(300).fill(7);
  data.set(W_BYTES, 100);
  fs.writeFileSync(path.join(dir, 'w.bin'), data);
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'tail.bin'), W_BYTES);
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(
    file,
    externalModel('w.bin', [
      { key: 'offset', value: '100' },
      { key: 'length', value: '64' },
      { key: 'checksum', value: 'ignored' },
    ]),
  );
  const m = await loadModel(file);
  const w = m.graph!.initializer![0]!;
  assert.deepEqual([...w.rawData!], [...W_BYTES]);
  assert.equal(w.dataLocation, onnx.TensorProto.DataLocation.DEFAULT);
  assert.deepEqual(w.externalData, []);
  // Re-encoded, the model carries its data and no reference.
  const again = onnx.ModelProto.decode(encodeModel(m)).graph!.initializer![0]!;
  assert.deepEqual([...again.rawData!], [...W_BYTES]);
  assert.equal(Object.hasOwn(again, 'dataLocation'), false);

  // No length: to the end of the file. Bytes input: relative to baseDir.
  const bytes = externalModel('./sub/tail.bin');
  const fromBytes = await loadModel(bytes, { baseDir: dir });
  assert.deepEqual([...fromBytes.graph!.initializer![0]!.rawData!], [...W_BYTES]);
  await assert.rejects(
    loadModel(bytes),
    fails('INVALID_ARGUMENT', /tensor 'W' keeps its data in external file '\.\/sub\/tail\.bin'; pass baseDir/),
  );
  const other = path.join(dir, 'm2.onnx');
  fs.writeFileSync(other, bytes);
  assert.deepEqual(await fileSizes(other), {
    modelBytes: bytes.length,
    externalBytes: 64,
    totalBytes: bytes.length + 64,
    externalFiles: [path.join(dir, 'sub', 'tail.bin')],
  });
});

test('external locations outside the model folder are refused with UNSAFE_PATH naming tensor and location', async () => {
  const dir = fresh();
  const outside = fresh();
  fs.writeFileSync(path.join(outside, 'secret.bin'), W_BYTES);
  fs.symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'link.bin'));
  const cases = [path.join(outside, 'secret.bin'), `../${path.basename(outside)}/secret.bin`, 'link.bin'];
  for (const location of cases) {
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, externalModel(location));
    const loc = location.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    await assert.rejects(loadModel(file), fails('UNSAFE_PATH', /tensor 'W'/, new RegExp(`location '${loc}'`)));
    await assert.rejects(fileSizes(file), fails('UNSAFE_PATH'));
  }
});

test('a missing external file or a range past its end is INVALID_MODEL naming tensor and file', async () => {
  const dir = fresh();
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, externalModel('gone.bin'));
  await assert.rejects(loadModel(file), fails('INVALID_MODEL', /gone\.bin of tensor 'W' does not exist/));
  fs.writeFileSync(path.join(dir, 'short.bin'), W_BYTES.subarray(0, 10));
  fs.writeFileSync(
    file,
    externalModel('short.bin', [
      { key: 'offset', value: '4' },
      { key: 'length', value: '64' },
    ]),
  );
  await assert.rejects(loadModel(file), fails('INVALID_MODEL', /tensor 'W' wants bytes 4\.\.68 of .*short\.bin, which has only 10 bytes/));
  fs.writeFileSync(file, externalModel('short.bin', [{ key: 'offset', value: '-1' }]));
  await assert.rejects(
    loadModel(file),
    fails('INVALID_MODEL', /tensor 'W' has external_data offset '-1'; expected a non-negative integer/),
  );
  fs.writeFileSync(file, externalModel(''));
  await assert.rejects(loadModel(file), fails('INVALID_MODEL', /tensor 'W' has data_location EXTERNAL but no external_data 'location'/));
});

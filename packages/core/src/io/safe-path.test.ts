import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { resolveInside } from './safe-path.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const base = path.join(root, 'model');
const outside = path.join(root, 'outside');
fs.mkdirSync(path.join(base, 'sub'), { recursive: true });
fs.mkdirSync(outside);
fs.writeFileSync(path.join(outside, 'secret.bin'), 'x');
fs.writeFileSync(path.join(base, 'sub', 'w.bin'), 'w');
fs.symlinkSync(outside, path.join(base, 'out-dir'));
fs.symlinkSync(path.join(outside, 'secret.bin'), path.join(base, 'out-file.bin'));
fs.symlinkSync(path.join(base, 'sub', 'w.bin'), path.join(base, 'in-file.bin'));

function refused(rel: string, why: RegExp): void {
  assert.throws(
    () => resolveInside(base, rel, `location '${rel}' of tensor 'W'`),
    (e: unknown) => {
      assert.ok(e instanceof ShrinkError);
      assert.equal(e.code, 'UNSAFE_PATH');
      assert.match(e.message, new RegExp(`^location '${rel.replace(/[.\\*]/g, '\\$&')}' of tensor 'W': `));
      assert.match(e.message, why);
      return true;
    },
  );
}

test('paths inside the folder resolve, existing or not', () => {
  assert.equal(resolveInside(base, 'sub/w.bin'), path.join(base, 'sub', 'w.bin'));
  assert.equal(resolveInside(base, './sub/../sub/w.bin'), path.join(base, 'sub', 'w.bin'));
  assert.equal(resolveInside(base, '..data'), path.join(base, '..data'));
  assert.equal(resolveInside(base, 'new/deeper/x.onnx_data'), path.join(base, 'new', 'deeper', 'x.onnx_data'));
  assert.equal(resolveInside(base, 'in-file.bin'), path.join(base, 'in-file.bin'));
});

test('absolute paths, climbing out and links to outside are refused with UNSAFE_PATH', () => {
  refused(path.join(outside, 'secret.bin'), /is absolute/);
  refused('C:\\weights.bin', /is absolute/);
  refused('\\\\server\\share\\w.bin', /is absolute/);
  refused('../outside/secret.bin', /climbs out/);
  refused('sub/../../outside/secret.bin', /climbs out/);
  refused('..', /climbs out/);
  refused('.', /names the folder itself/);
  refused('', /empty path/);
  refused('a\0b', /NUL/);
  refused('out-dir/secret.bin', /symbolic link/);
  refused('out-file.bin', /symbolic link/);
  refused('out-dir/not-yet-there.bin', /symbolic link/);
});

// A run killed with SIGKILL while writing leaves the old output byte for byte or the complete new one:
// never a partial file, never an old .onnx beside new external data (or the reverse). What a kill leaves
// behind (its own hidden temporaries) is asserted, and so is that the next save of the same model
// removes it; both are documented in README ("What Shrink guarantees").
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeModel, isShrinkError } from '@shrink/core';
import { loadModel, saveModel } from '@shrink/core/io';
import { bigModel } from './big-model.fixture.js';
import { assertValidModel } from './check-onnx.fixture.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../../..');
// node with tsx's loader in-process, not the tsx binary: that one forwards to a child node, and a
// SIGKILL of the wrapper would leave the writer running.
const nodeArgs = ['--import', 'tsx', '--conditions=@shrink/source'];
const run = (args: string[]) => spawnSync(process.execPath, [...nodeArgs, ...args], { encoding: 'utf8', cwd: repo });
const writer = path.join(here, 'big-writer.fixture.ts');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-kill-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const MB = 128;
// The CLI run also measures both models afterwards: a smaller model keeps that short.
const CLI_MB = 32;
// Kills at every file-system change need no large payload, only many runs.
const OPS_MB = 4;
/** `.tmp` files in `dir` and in the stage folders in it, as paths relative to `dir`. */
function temps(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory() && e.name.endsWith('.stage'))
      out.push(
        ...fs
          .readdirSync(path.join(dir, e.name))
          .filter((f) => f.endsWith('.tmp'))
          .map((f) => `${e.name}/${f}`),
      );
    else if (e.name.endsWith('.tmp')) out.push(e.name);
  }
  return out;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `args` (through tsx), waits for a temp file that `started` picks to appear under `dir`, waits
 * `delayMs` more and SIGKILLs the process. `killed`: the kill came before the process ended; `midWrite`:
 * and that temp file was still there afterwards (a killed writer cannot remove or rename it), so the kill
 * landed while the file was being written, not after its rename.
 */
async function killDuringWrite(
  args: string[],
  dir: string,
  started: (temp: string) => boolean,
  delayMs: number,
): Promise<{ killed: boolean; midWrite: boolean }> {
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: 'ignore', cwd: repo });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let running = true;
  void exited.then(() => (running = false));
  while (running && !temps(dir).some(started)) await sleep(1);
  if (delayMs) await sleep(delayMs);
  const killed = running && child.kill('SIGKILL');
  await exited;
  return { killed, midWrite: killed && temps(dir).some(started) };
}

/**
 * Runs big-writer.fixture.ts with `pauseAfter` (0: report every file-system change, do not stop) and
 * SIGKILLs it once it has stopped after that change. Returns the changes it reported and whether it
 * was killed (false: it finished first, having made fewer changes).
 */
async function killAfterChange(args: string[], pauseAfter: number): Promise<{ killed: boolean; ops: string[] }> {
  const child = spawn(process.execPath, [...nodeArgs, writer, ...args, String(pauseAfter)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: repo,
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let out = '';
  let paused = false;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    out += d;
    if (!paused && /^paused$/m.test(out)) paused = child.kill('SIGKILL');
  });
  const code = await exited;
  if (!paused) assert.equal(code, 0, `the writer failed:\n${out}`);
  return { killed: paused, ops: out.split('\n').filter((l) => l.startsWith('op ')) };
}

/** Which model the file now holds, compared byte for byte after loading (external data read in). */
async function whichModel(file: string, candidates: Record<string, Buffer>): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = Buffer.from(encodeModel(await loadModel(file)));
  } catch (e) {
    if (isShrinkError(e) && e.code === 'NOT_FOUND') return 'none';
    return `BROKEN (${(e as Error).message})`;
  }
  for (const [name, c] of Object.entries(candidates)) if (bytes.equals(c)) return name;
  return 'MIXED';
}

const landedMsg = (outcomes: string[]) =>
  `no kill landed while the temp file existed, even with the larger payload:\n${outcomes.join('\n')}`;

test(
  'SIGKILL while saveModel replaces a model: the old file or the complete new one, never a partial one',
  { timeout: 300_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(root, 'inline-'));
    const target = path.join(dir, 'model.onnx');
    const outcomes: string[] = [];
    let mb = MB;
    // "Finished first" at every kill point would test nothing: a second round with twice the payload
    // (twice the write time) when no kill landed mid-write.
    for (let round = 0, landed = 0; landed === 0; round++, mb *= 2) {
      assert.ok(round < 2, landedMsg(outcomes));
      const old = Buffer.from(encodeModel(bigModel(mb, 1)));
      const fresh = Buffer.from(encodeModel(bigModel(mb, 2)));
      // Right after the temp file appears, a third and two thirds into the write (~1.5 s for 128 MiB here).
      for (const delay of [0, 400, 1000]) {
        // Also the "later run": it removes the temp file the killed one left.
        await saveModel(bigModel(mb, 1), target);
        assert.deepEqual(fs.readdirSync(dir), ['model.onnx'], 'a save removes the temporaries of killed saves of the same model');
        const k = await killDuringWrite([writer, target, String(mb), '2'], dir, (t) => t.startsWith('.model.onnx.'), delay);
        if (k.midWrite) landed++;
        const now = fs.readFileSync(target);
        const which = now.equals(old) ? 'old' : now.equals(fresh) ? 'new' : 'PARTIAL';
        outcomes.push(
          `${mb} MiB, ${delay} ms: ${k.midWrite ? 'killed mid-write' : k.killed ? 'killed after the rename' : 'finished first'} -> ${which}, temps left: ${temps(dir).length}`,
        );
        assert.notEqual(which, 'PARTIAL', outcomes.join('\n'));
        if (k.midWrite) assert.equal(which, 'old', 'killed before the rename, the old file stays');
        if (k.killed && which === 'old') assert.equal(temps(dir).length, 1, 'a killed writer leaves exactly its own temp file');
      }
    }
    console.log(`# ${outcomes.join('; ')}`);
    const fresh = Buffer.from(encodeModel(bigModel(MB, 2)));
    // An unkilled run replaces the file and leaves no temp file, its own or the killed run's.
    const r = run([writer, target, String(MB), '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(dir), ['model.onnx']);
    assert.ok(fs.readFileSync(target).equals(fresh));
    await assertValidModel(target);
  },
);

test(
  'SIGKILL while replacing a model with external data, timed into the data write: the old pair or the new pair',
  { timeout: 300_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(root, 'external-'));
    const target = path.join(dir, 'model.onnx');
    const outcomes: string[] = [];
    let mb = MB;
    for (let round = 0, landed = 0; landed === 0; round++, mb *= 2) {
      assert.ok(round < 2, landedMsg(outcomes));
      // Different sizes: an old .onnx reading the new data file would see the wrong bytes, not the same ones.
      const models = { old: Buffer.from(encodeModel(bigModel(mb / 2, 1))), new: Buffer.from(encodeModel(bigModel(mb, 2))) };
      // The data file is written in a stage folder first; the .onnx beside it once the data is complete.
      const dataTemp = (t: string) => /\.stage\/\.model\.onnx_data\./.test(t);
      const onnxTemp = (t: string) => /\.stage\/\.model\.onnx\./.test(t);
      for (const [what, started, delay] of [
        ['data', dataTemp, 0],
        ['data', dataTemp, 300],
        ['.onnx', onnxTemp, 0],
      ] as const) {
        await saveModel(bigModel(mb / 2, 1), target, { externalData: true });
        assert.deepEqual(
          fs.readdirSync(dir).sort(),
          ['model.onnx', 'model.onnx_data'],
          'a save removes what killed saves of the same model left',
        );
        const k = await killDuringWrite([writer, target, String(mb), '2', 'external'], dir, started, delay);
        if (k.midWrite) landed++;
        const which = await whichModel(target, models);
        outcomes.push(
          `${mb} MiB, kill at the ${what} temp +${delay} ms: ${k.midWrite ? 'killed mid-write' : k.killed ? 'killed after the rename' : 'finished first'} -> ${which}, left: ${
            fs
              .readdirSync(dir)
              .filter((f) => f.startsWith('.'))
              .join(', ') || 'none'
          }`,
        );
        assert.ok(which === 'old' || which === 'new', outcomes.join('\n'));
        if (k.midWrite) assert.equal(which, 'old', 'killed while a file was still being written, the old pair stays');
      }
    }
    console.log(`# ${outcomes.join('; ')}`);
    const r = run([writer, target, String(MB), '2', 'external']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx_data']);
    await assertValidModel(target);
  },
);

for (const scenario of ['a save replacing a model with external data', 'a first save with external data'] as const) {
  test(
    `SIGKILL after each file-system change of ${scenario}: the ${scenario.startsWith('a first') ? 'new pair or none' : 'old pair or the new pair'}, switching at one rename`,
    { timeout: 300_000 },
    async () => {
      const replace = !scenario.startsWith('a first');
      const models = { old: Buffer.from(encodeModel(bigModel(OPS_MB / 2, 1))), new: Buffer.from(encodeModel(bigModel(OPS_MB, 2))) };
      const args = (target: string) => [target, String(OPS_MB), '2', 'external'];
      // The changes an unkilled save makes, and the one rename that commits: the first .onnx renamed into place.
      const probeDir = fs.mkdtempSync(path.join(root, 'ops-'));
      const probe = path.join(probeDir, 'model.onnx');
      if (replace) await saveModel(bigModel(OPS_MB / 2, 1), probe, { externalData: true });
      const { ops } = await killAfterChange(args(probe), 0);
      const commit = ops.findIndex((op) => / rename \S+ (\S+)$/.exec(op)?.[1] === probe) + 1;
      assert.ok(commit > 0, `no rename onto ${probe} among:\n${ops.join('\n')}`);
      assert.deepEqual(fs.readdirSync(probeDir).sort(), ['model.onnx', 'model.onnx_data']);

      const outcomes: string[] = [];
      const dir = fs.mkdtempSync(path.join(root, 'ops-'));
      for (let n = 1; n <= ops.length; n++) {
        const target = path.join(replace ? dir : fs.mkdtempSync(path.join(root, 'first-')), 'model.onnx');
        if (replace) {
          await saveModel(bigModel(OPS_MB / 2, 1), target, { externalData: true });
          assert.deepEqual(
            fs.readdirSync(dir).sort(),
            ['model.onnx', 'model.onnx_data'],
            `before kill ${n}: a save removes what killed saves of the same model left`,
          );
        }
        const k = await killAfterChange(args(target), n);
        assert.ok(k.killed, `the writer finished before change ${n}:\n${k.ops.join('\n')}`);
        const which = await whichModel(target, models);
        const op = k.ops
          .at(-1)!
          .replace(/^op \d+ /, '')
          .replaceAll(path.dirname(target) + path.sep, '')
          .replace(/\.\d+\.[0-9a-f]{12}\./g, '.<pid>.<random>.');
        outcomes.push(`${n} ${op} -> ${which}`);
        assert.equal(
          which,
          n < commit ? (replace ? 'old' : 'none') : 'new',
          `killed after change ${n} of ${ops.length} (the commit is ${commit}):\n${outcomes.join('\n')}`,
        );
      }
      console.log(`# ${outcomes.join('; ')}`);
      if (replace) {
        // The last killed run's leftovers go with the next save that finishes.
        const r = run([writer, ...args(path.join(dir, 'model.onnx'))]);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx_data']);
        assert.equal(await whichModel(path.join(dir, 'model.onnx'), models), 'new');
      }
    },
  );
}

test(
  'SIGKILL of a real `shrink quantize --force` over an existing output: old or complete new output, inputs untouched',
  { timeout: 300_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(root, 'cli-'));
    const input = path.join(dir, 'big.onnx');
    const output = path.join(dir, 'big_fp16.onnx');
    const outcomes: string[] = [];
    let args: string[] = [];
    for (let round = 0, mb = CLI_MB, landed = false; !landed; round++, mb *= 2) {
      assert.ok(round < 2, landedMsg(outcomes));
      await saveModel(bigModel(mb, 3), input);
      const inputBytes = fs.readFileSync(input);
      fs.writeFileSync(output, "yesterday's model");
      args = [path.join(here, '../bin.ts'), 'quantize', input, '--dtype', 'fp16', '-o', output, '--force', '--runs', '1', '--warmup', '0'];
      const before = temps(dir);
      const k = await killDuringWrite(args, dir, (t) => t.startsWith('.big_fp16.onnx.'), 0);
      landed = k.midWrite;
      const now = fs.readFileSync(output);
      if (now.toString() !== "yesterday's model") await assertValidModel(output);
      assert.ok(fs.readFileSync(input).equals(inputBytes));
      const left = temps(dir).filter((t) => !before.includes(t));
      outcomes.push(
        `${mb} MiB: shrink quantize ${k.midWrite ? 'killed mid-write' : k.killed ? 'killed after the rename' : 'finished before the kill'}: output ${now.length < 100 ? 'old' : 'complete new'}; temps left: ${left.join(', ') || 'none'}`,
      );
      if (k.midWrite) assert.ok(now.length < 100, 'killed before the rename, the old output stays');
      if (k.killed && now.length < 100)
        assert.equal(left.length, 1, 'the killed run leaves its temp file, until a later run of the same output');
    }
    console.log(`# ${outcomes.join('; ')}`);
    // A normal run leaves no temporaries: neither its own nor the killed runs'.
    const r = run(args);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(temps(dir), []);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['big.onnx', 'big_fp16.onnx']);
    await assertValidModel(output);
  },
);

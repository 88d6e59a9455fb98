// A run killed with SIGKILL while writing leaves the old output byte for byte or the complete new one,
// never a partial file; what a kill leaves behind (a temp file) is asserted and documented in README.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '@shrink/core';
import { loadModel, saveModel } from '@shrink/core/io';
import { bigModel } from './big-model.fixture.js';
import { assertValidModel } from './check-onnx.fixture.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../../..');
// node with tsx's loader in-process, not the tsx binary: that one forwards to a child node, and a
// SIGKILL of the wrapper would leave the writer running.
const nodeArgs = ['--import', 'tsx', '--conditions=@shrink/source'];
const run = (args: string[]) => spawnSync(process.execPath, [...nodeArgs, ...args], { encoding: 'utf8', cwd: repo });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-kill-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const MB = 128;
// The CLI run also measures both models afterwards: a smaller model keeps that short.
const CLI_MB = 32;
const temps = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `args` (through tsx), waits for a temp file matching `tmpPrefix` to appear in `dir`, waits
 * `delayMs` more and SIGKILLs the process. `killed`: the kill came before the process ended; `midWrite`:
 * and its temp file was still there afterwards (a killed writer cannot remove or rename it), so the kill
 * landed while the file was being written, not after the rename.
 */
async function killDuringWrite(args: string[], dir: string, tmpPrefix: string, delayMs: number): Promise<{ killed: boolean; midWrite: boolean }> {
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: 'ignore', cwd: repo });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let running = true;
  void exited.then(() => (running = false));
  while (running && !temps(dir).some((f) => f.startsWith(tmpPrefix))) await sleep(1);
  if (delayMs) await sleep(delayMs);
  const killed = running && child.kill('SIGKILL');
  await exited;
  return { killed, midWrite: killed && temps(dir).some((f) => f.startsWith(tmpPrefix)) };
}

const landedMsg = (outcomes: string[]) => `no kill landed while the temp file existed, even with the larger payload:\n${outcomes.join('\n')}`;

test('SIGKILL while saveModel replaces a model: the old file or the complete new one, never a partial one', { timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(root, 'inline-'));
  const target = path.join(dir, 'model.onnx');
  const outcomes: string[] = [];
  let mb = MB;
  // "Finished first" at every kill point would test nothing: a second round with twice the payload
  // (twice the write time) when no kill landed mid-write.
  for (let round = 0, landed = 0; landed === 0; round++, mb *= 2) {
    assert.ok(round < 2, landedMsg(outcomes));
    await saveModel(bigModel(mb, 1), target);
    const old = fs.readFileSync(target);
    const fresh = Buffer.from(encodeModel(bigModel(mb, 2)));
    // Right after the temp file appears, a third and two thirds into the write (~1.5 s for 128 MiB here).
    for (const delay of [0, 400, 1000]) {
      const k = await killDuringWrite([path.join(here, 'big-writer.fixture.ts'), target, String(mb), '2'], dir, '.model.onnx.', delay);
      if (k.midWrite) landed++;
      const now = fs.readFileSync(target);
      const which = now.equals(old) ? 'old' : now.equals(fresh) ? 'new' : 'PARTIAL';
      outcomes.push(`${mb} MiB, ${delay} ms: ${k.midWrite ? 'killed mid-write' : k.killed ? 'killed after the rename' : 'finished first'} -> ${which}, temps left: ${temps(dir).length}`);
      assert.notEqual(which, 'PARTIAL', outcomes.join('\n'));
      if (k.midWrite) assert.equal(which, 'old', 'killed before the rename, the old file stays');
      if (k.killed && which === 'old') assert.equal(temps(dir).length, 1, 'a killed writer leaves exactly its own temp file');
      for (const t of temps(dir)) fs.rmSync(path.join(dir, t));
    }
  }
  console.log(`# ${outcomes.join('; ')}`);
  const fresh = Buffer.from(encodeModel(bigModel(MB, 2)));
  // An unkilled run replaces the file and leaves no temp file.
  const r = run([path.join(here, 'big-writer.fixture.ts'), target, String(MB), '2']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(temps(dir), []);
  assert.ok(fs.readFileSync(target).equals(fresh));
  await assertValidModel(target);
});

test('SIGKILL while replacing a model with external data: the old pair or the new pair, never an old .onnx over new data', { timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(root, 'external-'));
  const target = path.join(dir, 'model.onnx');
  // Different sizes: an old .onnx reading the new data file would see the wrong bytes, not the same ones.
  const weightOf = async () => Buffer.from((await loadModel(target)).graph!.initializer![0]!.rawData!);
  const outcomes: string[] = [];
  let mb = MB;
  for (let round = 0, landed = 0; landed === 0; round++, mb *= 2) {
    assert.ok(round < 2, landedMsg(outcomes));
    await saveModel(bigModel(mb / 2, 1), target, { externalData: true });
    const oldW = await weightOf();
    const newW = Buffer.from((bigModel(mb, 2).graph!.initializer ?? [])[0]!.rawData!);
    // While the data file is written, and once the .onnx temp appears (the data file is complete then).
    for (const [prefix, delay] of [['.model.onnx_data.', 300], ['.model.onnx.', 0]] as const) {
      const k = await killDuringWrite([path.join(here, 'big-writer.fixture.ts'), target, String(mb), '2', 'external'], dir, prefix, delay);
      if (k.midWrite) landed++;
      let which: string;
      try {
        const w = await weightOf();
        which = w.equals(oldW) ? 'old' : w.equals(newW) ? 'new' : 'MIXED';
      } catch (e) {
        which = `BROKEN (${(e as Error).message})`;
      }
      outcomes.push(`${mb} MiB, kill at ${prefix}tmp +${delay} ms: ${k.midWrite ? 'killed mid-write' : k.killed ? 'killed after the rename' : 'finished first'} -> ${which}, temps left: ${temps(dir).length}`);
      assert.ok(which === 'old' || which === 'new', outcomes.join('\n'));
      for (const t of temps(dir)) fs.rmSync(path.join(dir, t));
    }
  }
  console.log(`# ${outcomes.join('; ')}`);
});

test('SIGKILL of a real `shrink quantize --force` over an existing output: old or complete new output, inputs untouched', { timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(root, 'cli-'));
  const input = path.join(dir, 'big.onnx');
  const output = path.join(dir, 'big_fp16.onnx');
  const outcomes: string[] = [];
  let args: string[] = [];
  for (let round = 0, mb = CLI_MB, landed = false; !landed; round++, mb *= 2) {
    assert.ok(round < 2, landedMsg(outcomes));
    await saveModel(bigModel(mb, 3), input);
    const inputBytes = fs.readFileSync(input);
    fs.writeFileSync(output, 'yesterday\'s model');
    args = [path.join(here, '../bin.ts'), 'quantize', input, '--dtype', 'fp16', '-o', output, '--force', '--runs', '1', '--warmup', '0'];
    const k = await killDuringWrite(args, dir, '.big_fp16.onnx.', 0);
    landed = k.midWrite;
    const now = fs.readFileSync(output);
    if (now.toString() !== "yesterday's model") await assertValidModel(output);
    assert.ok(fs.readFileSync(input).equals(inputBytes));
    const left = temps(dir);
    outcomes.push(`${mb} MiB: shrink quantize ${k.midWrite ? 'killed mid-write' : k.killed ? 'killed after the rename' : 'finished before the kill'}: output ${now.length < 100 ? 'old' : 'complete new'}; temps left: ${left.join(', ') || 'none'}`);
    if (k.midWrite) assert.ok(now.length < 100, 'killed before the rename, the old output stays');
    if (k.killed && now.length < 100) assert.equal(left.length, 1, 'the killed run leaves its temp file (shrink does not clean up after a killed run)');
    for (const t of temps(dir)) fs.rmSync(path.join(dir, t));
  }
  console.log(`# ${outcomes.join('; ')}`);
  // A normal run leaves no temporaries.
  const r = run(args);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(temps(dir), []);
  await assertValidModel(output);
});

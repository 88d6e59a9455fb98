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
 * `delayMs` more and SIGKILLs the process. Resolves to whether the kill landed before the process ended.
 */
async function killDuringWrite(args: string[], dir: string, tmpPrefix: string, delayMs: number): Promise<boolean> {
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: 'ignore', cwd: repo });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let running = true;
  void exited.then(() => (running = false));
  while (running && !temps(dir).some((f) => f.startsWith(tmpPrefix))) await sleep(1);
  if (delayMs) await sleep(delayMs);
  const killed = running && child.kill('SIGKILL');
  await exited;
  return killed;
}

test('SIGKILL while saveModel replaces a model: the old file or the complete new one, never a partial one', { timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(root, 'inline-'));
  const target = path.join(dir, 'model.onnx');
  await saveModel(bigModel(MB, 1), target);
  const old = fs.readFileSync(target);
  const fresh = Buffer.from(encodeModel(bigModel(MB, 2)));
  const outcomes: string[] = [];
  // Right after the temp file appears, a third and two thirds into the write (~1.5 s for 128 MiB here).
  for (const delay of [0, 400, 1000]) {
    const killed = await killDuringWrite([path.join(here, 'big-writer.fixture.ts'), target, String(MB), '2'], dir, '.model.onnx.', delay);
    const now = fs.readFileSync(target);
    const which = now.equals(old) ? 'old' : now.equals(fresh) ? 'new' : 'PARTIAL';
    outcomes.push(`${delay} ms: ${killed ? 'killed' : 'finished first'} -> ${which}, temps left: ${temps(dir).length}`);
    assert.notEqual(which, 'PARTIAL', outcomes.join('\n'));
    if (killed && which === 'old') assert.equal(temps(dir).length, 1, 'a killed writer leaves exactly its own temp file');
    for (const t of temps(dir)) fs.rmSync(path.join(dir, t));
  }
  console.log(`# ${outcomes.join('; ')}`);
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
  await saveModel(bigModel(MB / 2, 1), target, { externalData: true });
  const oldW = await weightOf();
  const newW = Buffer.from((bigModel(MB, 2).graph!.initializer ?? [])[0]!.rawData!);
  const outcomes: string[] = [];
  // While the data file is written, and once the .onnx temp appears (the data file is complete then).
  for (const [prefix, delay] of [['.model.onnx_data.', 300], ['.model.onnx.', 0]] as const) {
    const killed = await killDuringWrite([path.join(here, 'big-writer.fixture.ts'), target, String(MB), '2', 'external'], dir, prefix, delay);
    let which: string;
    try {
      const w = await weightOf();
      which = w.equals(oldW) ? 'old' : w.equals(newW) ? 'new' : 'MIXED';
    } catch (e) {
      which = `BROKEN (${(e as Error).message})`;
    }
    outcomes.push(`kill at ${prefix}tmp +${delay} ms: ${killed ? 'killed' : 'finished first'} -> ${which}, temps left: ${temps(dir).length}`);
    assert.ok(which === 'old' || which === 'new', outcomes.join('\n'));
    for (const t of temps(dir)) fs.rmSync(path.join(dir, t));
  }
  console.log(`# ${outcomes.join('; ')}`);
});

test('SIGKILL of a real `shrink quantize --force` over an existing output: old or complete new output, inputs untouched', { timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(root, 'cli-'));
  const input = path.join(dir, 'big.onnx');
  const output = path.join(dir, 'big_fp16.onnx');
  await saveModel(bigModel(CLI_MB, 3), input);
  const inputBytes = fs.readFileSync(input);
  fs.writeFileSync(output, 'yesterday\'s model');
  const args = [path.join(here, '../bin.ts'), 'quantize', input, '--dtype', 'fp16', '-o', output, '--force', '--runs', '1', '--warmup', '0'];
  const killed = await killDuringWrite(args, dir, '.big_fp16.onnx.', 0);
  const now = fs.readFileSync(output);
  if (now.toString() !== "yesterday's model") await assertValidModel(output);
  assert.ok(fs.readFileSync(input).equals(inputBytes));
  const left = temps(dir);
  console.log(`# shrink quantize ${killed ? 'killed mid-write' : 'finished before the kill'}: output ${now.length < 100 ? 'old' : 'complete new'}; temps left: ${left.join(', ') || 'none'}`);
  if (killed && now.length < 100) assert.equal(left.length, 1, 'the killed run leaves its temp file (shrink does not clean up after a killed run)');
  for (const t of temps(dir)) fs.rmSync(path.join(dir, t));
  // A normal run leaves no temporaries.
  const r = run(args);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(temps(dir), []);
  await assertValidModel(output);
});

// The worker pool's failure handling with tiny stand-in workers (data: URLs speaking the trial protocol),
// so no model trains: a worker ending without an 'error' event, and a fatal start-up error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@shrink/core';
import type { WorkerSetup } from './trial-worker.js';
import { runTrialsInWorkers } from './worker-pool.js';

const quiet: Logger = { debug() {}, info() {}, warn() {} };
const worker = (code: string) => new URL(`data:text/javascript,${encodeURIComponent(code)}`);
const jobs = (...names: string[]) => names.map((name) => ({ name, steps: [] }));
const setup = {} as WorkerSetup;

test('a worker that exits without an error event fails its trial; a new worker runs the rest', { timeout: 30_000 }, async () => {
  const entry = worker(`
    import { parentPort } from 'node:worker_threads';
    parentPort.postMessage({ type: 'ready' });
    parentPort.on('message', (job) => {
      if (job.name === 'exits') process.exit(3);
      parentPort.postMessage({ type: 'done', outcome: { name: job.name, seconds: 0 } });
    });`);
  const r = await runTrialsInWorkers(jobs('a', 'exits', 'b'), 1, setup, quiet, entry);
  assert.deepEqual(
    r.map((o) => o.name),
    ['a', 'exits', 'b'],
  );
  assert.equal(r[0]!.error, undefined);
  assert.match(r[1]!.error ?? '', /worker crashed: exited with code 3/);
  assert.equal(r[2]!.error, undefined);
});

test('a worker failing to start ends the search and the other workers are terminated', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-pool-'));
  const beat = path.join(dir, 'beat');
  try {
    // The first worker to take the lock stays alive, writing a heartbeat; the other fails before it is ready.
    const entry = worker(`
      import { parentPort } from 'node:worker_threads';
      import { appendFileSync, openSync } from 'node:fs';
      let first = true;
      try { openSync(${JSON.stringify(path.join(dir, 'lock'))}, 'wx'); } catch { first = false; }
      if (!first) { await new Promise((r) => setTimeout(r, 200)); throw new Error('cannot load the model'); }
      setInterval(() => appendFileSync(${JSON.stringify(beat)}, 'x'), 20);
      parentPort.postMessage({ type: 'ready' });`);
    await assert.rejects(
      runTrialsInWorkers(jobs('a', 'b', 'c'), 2, setup, quiet, entry),
      /search worker \d failed to start: cannot load the model/,
    );
    await sleep(100);
    const size = statSync(beat).size;
    await sleep(300);
    assert.equal(statSync(beat).size, size, 'the surviving worker still runs');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

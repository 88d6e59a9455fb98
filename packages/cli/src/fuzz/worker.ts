// One fuzz worker: reads the corpus, then runs the cases the parent sends, one at a time.
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { loadCorpus } from './corpus.js';
import { makeCase } from './cases.js';
import { runCase } from './run-case.js';

interface WorkerInput {
  corpusDir: string;
  workDir: string;
  seed: number;
}

const { corpusDir, workDir, seed } = workerData as WorkerInput;
const port = parentPort!;
const corpus = await loadCorpus(corpusDir);

// tfjs greets on first use (console.warn); load it now so the greeting is not charged to a case.
const { initTf } = await import('@shrink/core/tfjs');
const warn = console.warn;
console.warn = () => undefined;
await initTf({});
console.warn = warn;

// An async throw that escapes the command would end the process in the CLI: here it fails the case.
let current = -1;
process.on('unhandledRejection', (e) => port.postMessage({ type: 'escaped', index: current, error: String((e as Error)?.stack ?? e) }));
process.on('uncaughtException', (e) => port.postMessage({ type: 'escaped', index: current, error: String(e?.stack ?? e) }));

port.on('message', async (msg: { index: number }) => {
  current = msg.index;
  try {
    const c = makeCase(corpus, seed, msg.index);
    const result = await runCase(c, path.join(workDir, `case-${msg.index}`));
    port.postMessage({ type: 'result', result });
  } catch (e) {
    port.postMessage({ type: 'escaped', index: msg.index, error: `harness: ${String((e as Error)?.stack ?? e)}` });
  }
});
port.postMessage({ type: 'ready' });

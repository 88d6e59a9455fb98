// One fuzz worker: reads the corpus, then runs the cases the parent sends, one at a time.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { loadCorpus } from './corpus.js';
import { makeCase } from './cases.js';
import { captured, runCase } from './run-case.js';
import { main } from '../main.js';

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

// The first pipeline with a pruning step costs seconds once per thread (3 s alone, 7-8 s on a loaded
// machine: close to the 10 s case budget); pay it here, not in whichever run case comes first.
{
  const dir = path.join(workDir, 'warm-up');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model.onnx'), corpus.onnx.get('mlp.onnx')!);
  await writeFile(path.join(dir, 'data.json'), corpus.data.json);
  await writeFile(
    path.join(dir, 'shrink.config.yaml'),
    'model: model.onnx\ndata: { eval: data.json }\nsteps: [{ prune: { method: magnitude, sparsity: 0.5 } }, { quantize: { dtype: q8 } }]\nevaluation: { runs: 1, warmup: 0 }\noutput: out\n',
  );
  await captured(() => main(['run', path.join(dir, 'shrink.config.yaml'), '--json']));
  await rm(dir, { recursive: true, force: true });
}

// An async throw that escapes the command would end the process in the CLI: here it fails the case.
// Which case scheduled it is not knowable cheaply, so the report says when it surfaced: while a case ran
// (and, if one ran before it on this worker, that it may be that one's), or after the last case ended.
let current = -1;
let last = -1;
const escaped = (e: unknown) => {
  const error = String((e as Error)?.stack ?? e);
  if (current >= 0) {
    const note = last >= 0 ? ` (surfaced while case ${current} ran; it may be a late one from case ${last})` : '';
    port.postMessage({ type: 'escaped', index: current, error: `${error}${note}` });
  } else port.postMessage({ type: 'escaped', index: last, error: `after case ${last} ended: ${error}` });
};
process.on('unhandledRejection', escaped);
process.on('uncaughtException', escaped);

port.on('message', async (msg: { index: number }) => {
  current = msg.index;
  try {
    const c = makeCase(corpus, seed, msg.index);
    const result = await runCase(c, path.join(workDir, `case-${msg.index}`));
    // One turn of the event loop: a rejection the case left unhandled surfaces while it is still current.
    await new Promise((r) => setImmediate(r));
    port.postMessage({ type: 'result', result });
  } catch (e) {
    port.postMessage({ type: 'escaped', index: msg.index, error: `harness: ${String((e as Error)?.stack ?? e)}` });
  } finally {
    last = msg.index;
    current = -1;
  }
});
port.postMessage({ type: 'ready' });

// Runs `main(argv)` for the parent thread, with stdout/stderr captured (see mainInWorker).
import { parentPort } from 'node:worker_threads';
import { main } from '../main.js';
import { captured } from './run-case.js';

parentPort!.on('message', async (argv: string[]) => {
  parentPort!.postMessage(await captured(() => main(argv)));
});

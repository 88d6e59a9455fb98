/**
 * The CLI in-process for tests: `main(argv)` in a worker thread, whose process.stdout/stderr can be
 * captured without touching the test runner's own (node:test reports over the test process's stdout).
 * About 100x cheaper per command than spawning tsx.
 */
import { Worker } from 'node:worker_threads';

export interface MainRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface MainWorker {
  run(argv: readonly string[]): Promise<MainRun>;
  close(): Promise<void>;
}

export function mainInWorker(): MainWorker {
  const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
    execArgv: ['--conditions=@shrink/source'],
    workerData: { entry: new URL('./main-worker.ts', import.meta.url).href },
    stdout: true,
    stderr: true,
  });
  worker.stdout.resume();
  worker.stderr.resume();
  let chain: Promise<unknown> = Promise.resolve();
  return {
    run(argv) {
      const next = chain.then(
        () =>
          new Promise<MainRun>((resolve, reject) => {
            const onError = (e: Error) => reject(e);
            worker.once('error', onError);
            worker.once('message', (m: MainRun) => {
              worker.off('error', onError);
              resolve(m);
            });
            worker.postMessage([...argv]);
          }),
      );
      chain = next.catch(() => undefined);
      return next;
    },
    close: async () => {
      await worker.terminate();
    },
  };
}

import cliProgress from 'cli-progress';
import { noProgress, type Logger, type Progress } from '@shrink/core';

/** A progress bar on stderr when it is a terminal and output is for people; silent otherwise. */
export function terminalProgress(json: boolean): Progress {
  if (json) return noProgress;
  if (!process.stderr.isTTY) return lineProgress();
  let bar: cliProgress.SingleBar | undefined;
  return {
    start(label, total) {
      bar?.stop();
      bar = new cliProgress.SingleBar(
        { format: `${label.padEnd(28)} {bar} {value}/{total} {detail}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total ?? 0, 0, { detail: '' });
    },
    tick(n = 1, detail = '') {
      bar?.increment(n, { detail });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** Logs to stderr so stdout stays clean for --json; debug only with --verbose. */
export function stderrLogger(verbose: boolean, json: boolean): Logger {
  return {
    debug: (m) => {
      if (verbose) process.stderr.write(`debug: ${m}\n`);
    },
    info: (m) => {
      if (!json) process.stderr.write(`${m}\n`);
    },
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
  };
}

/**
 * Without a terminal (CI logs), a bar would be noise: print one line per step that has something to
 * say (an epoch's loss), so a long job still shows it is alive.
 */
function lineProgress(): Progress {
  let label = '';
  let total: number | undefined;
  let done = 0;
  return {
    start(l, t) {
      label = l;
      total = t;
      done = 0;
    },
    tick(n = 1, detail = '') {
      done += n;
      if (detail) process.stderr.write(`${label} ${done}${total !== undefined ? `/${total}` : ''}: ${detail}\n`);
    },
    stop() {},
  };
}

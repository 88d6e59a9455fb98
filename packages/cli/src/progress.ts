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

/** Without a terminal: the first "still running" line after this long, then at most one per interval. */
const QUIET_MS = 5_000;
const EVERY_MS = 10_000;

/**
 * Without a terminal (CI logs), a bar would be noise: print one line per step that has something to
 * say (an epoch's loss), and for a step that runs long, a line now and then with its count and time, so a
 * long job still shows it is alive. Quick steps print nothing (a refusal stays one line on stderr).
 */
export function lineProgress(now: () => number = Date.now): Progress {
  let label = '';
  let total: number | undefined;
  let done = 0;
  let started = 0;
  let last = 0;
  const count = () => `${done}${total !== undefined ? `/${total}` : ''}`;
  return {
    start(l, t) {
      label = l;
      total = t;
      done = 0;
      started = now();
      last = started;
    },
    tick(n = 1, detail = '') {
      done += n;
      const t = now();
      if (detail) {
        process.stderr.write(`${label} ${count()}: ${detail}\n`);
        last = t;
      } else if (t - started >= QUIET_MS && (last === started || t - last >= EVERY_MS)) {
        process.stderr.write(`${label} ${count()} (${Math.round((t - started) / 1000)} s)\n`);
        last = t;
      }
    },
    stop() {
      const t = now();
      // A long step that printed nothing says when it ended, so the log shows where the time went.
      if (label && t - started >= QUIET_MS && last === started)
        process.stderr.write(`${label}: done in ${Math.round((t - started) / 1000)} s\n`);
      label = '';
    },
  };
}

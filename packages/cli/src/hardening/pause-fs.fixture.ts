// For the kill-mid-write test's child process: lets the parent SIGKILL a save at an exact point, between
// two file-system changes, rather than wherever a timer lands.
import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);
// What changes a folder's entries. Data writes go through file handles and are not counted: a kill
// while they run is what the timed kills cover.
const OPS = ['open', 'rename', 'link', 'unlink', 'rm', 'copyFile', 'mkdir'] as const;

/**
 * Reports every change node:fs/promises makes to a folder on stdout (`op <n> <name> <path> [<path>]`),
 * and after the `pauseAfter`-th prints `paused` and stops there for good, keeping the process alive
 * for the kill. Replaces the functions on the module and updates the ES module bindings, so code that
 * imported them by name (core's io) calls these.
 */
export function reportFsOps(pauseAfter: number | undefined): void {
  const fsp = require('node:fs/promises') as Record<(typeof OPS)[number], (...args: unknown[]) => Promise<unknown>>;
  let count = 0;
  for (const op of OPS) {
    const original = fsp[op];
    fsp[op] = async (...args: unknown[]) => {
      const result = await original(...args);
      // Opening to read or to flush changes nothing.
      if (op === 'open' && !/[wax]/.test(String(args[1] ?? 'r'))) return result;
      count++;
      process.stdout.write(`op ${count} ${op} ${args.filter((a) => typeof a === 'string').join(' ')}\n`);
      if (count === pauseAfter) {
        process.stdout.write('paused\n');
        setInterval(() => undefined, 1 << 30);
        await new Promise(() => undefined);
      }
      return result;
    };
  }
  syncBuiltinESMExports();
}

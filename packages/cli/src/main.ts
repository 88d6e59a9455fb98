import yargs from 'yargs';
import { exitCodeFor, isShrinkError, ShrinkError } from '@shrink/core/errors';
import { commandsFor } from './commands/index.js';
import { refuseRepeatedScalars } from './repeated-flags.js';

/** Runs the CLI and resolves to its exit code; never throws. */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const cli = yargs(argv)
    .scriptName('shrink')
    .usage('$0 <command> [options]')
    .option('verbose', { type: 'boolean', describe: 'Print stack traces and debug logs' })
    .option('json', { type: 'boolean', describe: 'Machine-readable output on stdout (no progress)' })
    // A list flag given twice holds both values (`--exclude a --exclude b`); a one-value flag given twice is
    // refused before validation, rather than one of its values silently winning.
    .parserConfiguration({ 'duplicate-arguments-array': true })
    .middleware(refuseRepeatedScalars, true)
    .strict()
    .demandCommand(1, 'Name a command; `shrink --help` lists them.')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    // yargs renders a command's help before every run, in case it fails; laying it out to the terminal's
    // width costs ~0.1 s, so only a help request pays for it.
    .wrap(wantsHelp(argv) ? Math.min(110, process.stdout.columns ?? 100) : null)
    // Throwing stops yargs before the command runs: a mistyped flag must not train for an hour first.
    .fail((msg, err) => {
      if (err) throw err;
      throw new ShrinkError('INVALID_ARGUMENT', `${msg} (see \`shrink <command> --help\`)`);
    });
  try {
    // Each command types its own argv (see commands/index.ts).
    // eslint-disable-next-line @typescript-eslint/no-unsafe-argument
    for (const c of await commandsFor(argv)) cli.command(c);
    await cli.parseAsync();
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    process.stderr.write(`shrink: ${oneLine(describe(e))}\n`);
    if (verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return exitCodeFor(e);
  }
}

function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h') || !argv.some((a) => !a.startsWith('-'));
}

function describe(e: unknown): string {
  // The guard's error speaks of the model; the way around it is the CLI's to name.
  if (isShrinkError(e) && e.code === 'DEGRADED') return `${e.message} (--allow-degraded accepts it)`;
  if (isShrinkError(e)) return e.message;
  if (e instanceof Error) return `unexpected error: ${e.message}`;
  return `unexpected error: ${String(e)}`;
}

/** Errors from libraries (tfjs, yargs) can span lines; the CLI promises one. */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

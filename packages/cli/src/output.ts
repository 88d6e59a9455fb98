import { terminalProgress, stderrLogger } from './progress.js';
import type { Ctx } from '@shrink/core';
import type { Argv } from 'yargs';

/** A command's arguments, read off its builder: the flags the builder declares, no more (the handler gets them camelCased too). */
export type ArgsOf<B> = B extends (y: never) => Argv<infer A> ? A : never;

export interface GlobalArgs {
  json?: boolean;
  verbose?: boolean;
  threads?: number;
}

/** The Ctx every command hands to core: logger and progress on stderr, quiet under --json. */
export function ctxFromArgs(argv: GlobalArgs): Ctx {
  const json = argv.json === true;
  return {
    logger: stderrLogger(argv.verbose === true, json),
    progress: terminalProgress(json),
    ...(argv.threads !== undefined ? { threads: argv.threads } : {}),
  };
}

/** Prints the machine-readable value under --json, the human text otherwise. */
export function emit(argv: GlobalArgs, value: unknown, human: () => string): void {
  if (argv.json === true) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else process.stdout.write(`${human()}\n`);
}

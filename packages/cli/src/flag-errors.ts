import type { CommandModule } from 'yargs';
import { renameOption, ShrinkError } from '@shrink/core/errors';

/** How the CLI names the data a pass lacks. */
const MISSING_FLAG: Readonly<Record<NonNullable<ShrinkError['missing']>, string>> = {
  train: '--data',
  eval: '--data',
  calibration: '--calib-data',
};

/**
 * Errors name options as the schema does (`calibData`); a command's options are its flags, so its
 * errors say `--calib-data`, and data it lacks is named as the flag that gives it.
 */
export function flagErrors(e: unknown): unknown {
  const named = renameOption(e, (option) => `--${flagName(option)}`);
  if (!(named instanceof ShrinkError) || named.missing === undefined || named.subject === MISSING_FLAG[named.missing]) return named;
  return new ShrinkError(named.code, `${named.detail} (give ${MISSING_FLAG[named.missing]})`, {
    cause: named,
    ...(named.subject !== undefined ? { subject: named.subject } : {}),
  });
}

/** The command with its handler's errors in flag names. */
export function withFlagErrors<T, U>(c: CommandModule<T, U>): CommandModule<T, U> {
  const handler = c.handler;
  return {
    ...c,
    handler: async (argv) => {
      try {
        await handler(argv);
      } catch (e) {
        throw flagErrors(e);
      }
    },
  };
}

/** Flag names are the schema's keys in kebab-case (`calibMethod` -> `--calib-method`). */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

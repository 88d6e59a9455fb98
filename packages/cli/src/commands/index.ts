import type { CommandModule } from 'yargs';

// Every command module; main.ts registers them in this order (the order `--help` shows).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [];

import type { CommandModule } from 'yargs';
import { trainCommand } from './train.js';
import { infoCommand } from './info.js';
import { benchCommand } from './bench.js';
import { evalCommand } from './eval.js';
import { compareCommand } from './compare.js';
import { convertCommand } from './convert.js';
import { demoCommand } from './demo.js';
import { quantizeCommand } from './quantize.js';
import { pruneCommand } from './prune.js';
import { distillCommand } from './distill.js';
import { runCommand } from './run.js';
import { searchCommand } from './search.js';
import { withFlagErrors } from '../flag-errors.js';
import { PASSES } from '../registry.js';
import { passCommand } from './pass-command.js';

// Every command module; main.ts registers them in this order (the order `--help` shows).
// Each module types its own argv; the list only needs them to be commands.
/** Passes whose command is their own (a transformers.js output name, a tfjs branch, an output folder). */
const OWN_COMMAND: Readonly<Record<string, CommandModule<any, any>>> = { quantize: quantizeCommand, prune: pruneCommand, distill: distillCommand };

// Every registered pass is a command: its own, or the generic one-step pipeline. Their errors name options
// as flags, except run's and search's, which name the config's keys.
export const commands: CommandModule<any, any>[] = [
  ...([demoCommand, trainCommand, infoCommand, benchCommand, evalCommand, compareCommand, convertCommand, ...PASSES.map((p) => OWN_COMMAND[p.kind] ?? passCommand(p))] as CommandModule<any, any>[]).map((c) =>
    withFlagErrors(c),
  ),
  runCommand,
  searchCommand,
];

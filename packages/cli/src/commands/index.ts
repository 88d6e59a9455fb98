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

// Every command module; main.ts registers them in this order (the order `--help` shows).
// Each module types its own argv; the list only needs them to be commands.
export const commands: CommandModule<any, any>[] = [
  demoCommand,
  trainCommand,
  infoCommand,
  benchCommand,
  evalCommand,
  compareCommand,
  convertCommand,
  quantizeCommand,
  pruneCommand,
  distillCommand,
  runCommand,
  searchCommand,
];

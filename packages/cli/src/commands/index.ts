import type { CommandModule } from 'yargs';
import { withFlagErrors } from '../flag-errors.js';

// Each module types its own argv; the table only needs them to be commands.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Command = CommandModule<any, any>;
type Load = () => Promise<Command>;

// Build pipelines call the CLI many times, so a command loads only its own module: `shrink info` never
// parses yaml, the passes or the pipeline. The tables are in `--help` order.
const BEFORE_PASSES: ReadonlyArray<readonly [string, Load]> = [
  ['demo', async () => (await import('./demo.js')).demoCommand],
  ['train', async () => (await import('./train.js')).trainCommand],
  ['info', async () => (await import('./info.js')).infoCommand],
  ['bench', async () => (await import('./bench.js')).benchCommand],
  ['eval', async () => (await import('./eval.js')).evalCommand],
  ['compare', async () => (await import('./compare.js')).compareCommand],
  ['convert', async () => (await import('./convert.js')).convertCommand],
];
/** Errors of these name the config's keys, not flags. */
const AFTER_PASSES: ReadonlyArray<readonly [string, Load]> = [
  ['run', async () => (await import('./run.js')).runCommand],
  ['search', async () => (await import('./search.js')).searchCommand],
  ['serve', async () => (await import('./serve.js')).serveCommand],
  ['worker', async () => (await import('./worker.js')).workerCommand],
];
/** Passes whose command is their own (a transformers.js output name, a tfjs branch, an output folder). */
const OWN_COMMAND: Readonly<Record<string, Load>> = {
  quantize: async () => (await import('./quantize.js')).quantizeCommand,
  prune: async () => (await import('./prune.js')).pruneCommand,
  distill: async () => (await import('./distill.js')).distillCommand,
};

const flagged = async (load: Load) => withFlagErrors(await load());

/** Every registered pass as a command: its own, or the generic one-step pipeline. */
async function passCommands(only?: string): Promise<Command[]> {
  const [{ PASSES }, { passCommand }] = await Promise.all([import('../registry.js'), import('./pass-command.js')]);
  const passes = PASSES.filter((p) => only === undefined || p.kind === only);
  return Promise.all(passes.map((p) => flagged(OWN_COMMAND[p.kind] ?? (async () => passCommand(p)))));
}

/** Every command, in `--help` order. */
export async function allCommands(): Promise<Command[]> {
  const before = await Promise.all(BEFORE_PASSES.map(([, load]) => flagged(load)));
  const passes = await passCommands();
  const after = await Promise.all(AFTER_PASSES.map(([, load]) => load()));
  return [...before, ...passes, ...after];
}

/**
 * The commands `argv` needs: the one it names, else (help, a typo, no command) all of them, so that
 * `--help` lists them and yargs can suggest the nearest. Global flags are booleans, so the command is the
 * first word that is not a flag.
 */
export async function commandsFor(argv: readonly string[]): Promise<Command[]> {
  const name = argv.find((a) => !a.startsWith('-'));
  const before = BEFORE_PASSES.find(([n]) => n === name);
  if (before) return [await flagged(before[1])];
  const after = AFTER_PASSES.find(([n]) => n === name);
  if (after) return [await after[1]()];
  if (name !== undefined) {
    const pass = await passCommands(name);
    if (pass.length > 0) return pass;
  }
  return allCommands();
}

import { ShrinkError } from '@shrink/core/errors';
import { flagName } from './flag-errors.js';

/**
 * A list flag given twice adds to its list (`--exclude a --exclude b` excludes both); a one-value flag
 * given twice is refused, since keeping either value would silently drop the other. yargs parses
 * repeats into arrays (duplicate-arguments-array), so an array under a flag not declared as one is a
 * repeat.
 */
export function refuseRepeatedScalars(argv: Record<string, unknown>, y?: unknown): void {
  // yargs passes itself to a middleware, and knows the list flags once the command's builder ran (its
  // typings leave both out).
  const options = (y as { getOptions(): { array: string[]; alias: Record<string, string[] | undefined> } }).getOptions();
  const lists = new Set(options.array.map(flagName));
  // yargs maps a flag to its aliases ({ output: ['o'] }); a repeat may come in under either name.
  const names = new Map<string, string[]>();
  for (const [flag, aliases] of Object.entries(options.alias))
    for (const a of [flag, ...(aliases ?? [])]) names.set(a, [...(names.get(a) ?? []), flag, ...(aliases ?? [])]);
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key === '$0' || !Array.isArray(value)) continue;
    // -o and --output are one flag: name it by its longest name.
    const flag = flagName([key, ...(names.get(key) ?? [])].reduce((a, b) => (b.length > a.length ? b : a)));
    if (lists.has(flag)) continue;
    const given = value.map((v) => JSON.stringify(v)).join(', ');
    throw new ShrinkError('INVALID_ARGUMENT', `given ${value.length} times (${given}); it takes one value`, { subject: `--${flag}` });
  }
}

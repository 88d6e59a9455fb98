import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from './fs-error.js';
import { isInput } from './refuse-inputs.js';
import { parseTempName } from './temp-name.js';

/**
 * Whether a process with this pid runs on this machine. EPERM means it exists under another user.
 * A recycled pid makes a dead writer look alive: its temporaries then wait for a later run.
 */
function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoOf(e) === 'EPERM';
  }
}

/**
 * Removes the temporaries a killed run left for these targets (temp-name.ts' names for exactly these
 * file names, in their folders) whose writer is no longer running; returns what it removed. Other
 * files are never looked at, and `keep` and `inputs` are never removed. The pid check assumes the
 * writers ran on this machine (not another host or container sharing the folder).
 * Best effort: a file that cannot be removed is left.
 */
export async function removeStaleTemps(
  targets: readonly string[],
  opts: { keep?: readonly string[]; inputs?: readonly string[] } = {},
): Promise<string[]> {
  const keep = new Set((opts.keep ?? []).map((p) => path.resolve(p)));
  const byDir = new Map<string, Set<string>>();
  for (const t of targets) {
    const abs = path.resolve(t);
    const names = byDir.get(path.dirname(abs)) ?? new Set<string>();
    names.add(path.basename(abs));
    byDir.set(path.dirname(abs), names);
  }
  const removed: string[] = [];
  for (const [dir, names] of byDir) {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const p = path.join(dir, entry.name);
      if (keep.has(p)) continue;
      for (const name of names) {
        const t = parseTempName(entry.name, name);
        if (!t || pidAlive(t.pid)) continue;
        // A stage folder is a real folder of ours; anything else with our name is a file or a link.
        if (t.kind === 'stage' ? !entry.isDirectory() : entry.isDirectory()) continue;
        if ((await isInput(p, opts.inputs)) !== undefined) continue;
        await rm(p, { recursive: t.kind === 'stage', force: true }).then(
          () => removed.push(p),
          () => undefined,
        );
        break;
      }
    }
  }
  return removed;
}

/**
 * Names of the files Shrink keeps beside a target while writing it: `.<name>.<pid>.<random>.<kind>`.
 * The pid says whose it is, so a later run can tell the leftovers of a killed run (pid gone) from the
 * files of one still writing; the name says which target it belongs to.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/**
 * - `tmp`: a file being written, or written and not yet renamed over its target;
 * - `new`: a complete external data file (or other linked file) that a newly committed model may
 *   reference until it is renamed to its usual name (see writeLinkedFiles);
 * - `stage`: a folder holding a model and its linked files while they are written and checked.
 */
export type TempKind = 'tmp' | 'new' | 'stage';

/** A fresh temporary name beside `target`, of this process. */
export function tempPathFor(target: string, kind: TempKind = 'tmp'): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.${kind}`);
}

const TAIL = /^(\d{1,10})\.[0-9a-f]{12}\.(tmp|new|stage)$/;

/** The pid and kind of `fileName` when it is a temporary name for a target named `targetName`. */
export function parseTempName(fileName: string, targetName: string): { pid: number; kind: TempKind } | undefined {
  const prefix = `.${targetName}.`;
  if (!fileName.startsWith(prefix)) return undefined;
  const m = TAIL.exec(fileName.slice(prefix.length));
  if (!m) return undefined;
  const pid = Number(m[1]);
  // 0 and negative pids address process groups in process.kill: such a name is not ours.
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 0x7fffffff) return undefined;
  return { pid, kind: m[2] as TempKind };
}

import { realpathSync } from 'node:fs';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { errnoOf, fsError } from './fs-error.js';

function isInside(base: string, target: string): boolean {
  const rel = path.relative(base, target);
  // `..foo` is a file name, not a parent reference; a different drive gives an absolute `rel`.
  return !path.isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${path.sep}`);
}

/** Realpath of `p`, or of its deepest existing ancestor with the rest appended (for files not yet written). */
function realpathLenient(p: string): string {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return path.join(realpathSync.native(cur), ...rest.reverse());
    } catch (e) {
      const errno = errnoOf(e);
      if (errno !== 'ENOENT' && errno !== 'ENOTDIR') throw fsError(e, 'resolve', cur);
      const parent = path.dirname(cur);
      if (parent === cur) return p;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/**
 * Resolves `relative` against `baseDir` and refuses (UNSAFE_PATH) anything that could reach outside it:
 * absolute paths (POSIX or Windows style), `..` segments that climb out, and symbolic links anywhere
 * along the way whose target lies outside. Used for paths that come from a file (a model's
 * external-data `location`), which must not make Shrink read or write elsewhere. `what` names the
 * path in the error (e.g. "external data 'w.bin' of tensor 'W'"). The file need not exist yet.
 */
export function resolveInside(baseDir: string, relative: string, what = `path '${relative}'`): string {
  const refuse = (why: string): ShrinkError =>
    new ShrinkError('UNSAFE_PATH', `${what}: ${why}; expected a path relative to ${baseDir} that stays inside it`);
  if (typeof relative !== 'string' || relative.length === 0) throw refuse('empty path');
  if (relative.includes('\0')) throw refuse('contains a NUL byte');
  if (path.isAbsolute(relative) || path.win32.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative)) {
    throw refuse('is absolute');
  }
  const base = path.resolve(baseDir);
  const target = path.resolve(base, relative);
  if (target === base || !isInside(base, target)) throw refuse(target === base ? 'names the folder itself' : 'climbs out with ..');
  let realBase: string;
  try {
    realBase = realpathSync.native(base);
  } catch (e) {
    throw fsError(e, 'resolve folder', base);
  }
  if (!isInside(realBase, realpathLenient(target))) throw refuse('a symbolic link along it points outside the folder');
  return target;
}

import { ShrinkError } from '../errors.js';

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a parent of it is not a folder',
  EISDIR: 'it is a folder, expected a file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'name too long',
  EEXIST: 'it already exists',
  ELOOP: 'too many levels of symbolic links',
};

/** The errno code of a Node fs error, if it is one. */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A Node fs error as one ShrinkError line: `cannot <action> <path>: <reason>`; ENOENT -> NOT_FOUND. */
export function fsError(e: unknown, action: string, path: string): ShrinkError {
  if (e instanceof ShrinkError) return e;
  const errno = errnoOf(e);
  const reason = (errno && REASONS[errno]) ?? (e instanceof Error ? e.message : String(e));
  return new ShrinkError(errno === 'ENOENT' ? 'NOT_FOUND' : 'IO', `cannot ${action} ${path}: ${reason}`, { cause: e });
}

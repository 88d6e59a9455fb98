import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { ShrinkError } from '../errors.js';
import { fsError } from '../io/fs-error.js';

const gunzipAsync = promisify(gunzip);

/**
 * Reads a data file, gunzipping it when it starts with the gzip magic bytes (whatever its name).
 * Missing -> NOT_FOUND, unreadable -> IO, broken gzip -> INVALID_DATA; each names the file.
 */
export async function readDataFile(file: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (e) {
    throw fsError(e, 'read data file', file);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return await gunzipAsync(raw);
    } catch (e) {
      throw new ShrinkError('INVALID_DATA', `${file} looks gzipped but does not decompress: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  return raw;
}

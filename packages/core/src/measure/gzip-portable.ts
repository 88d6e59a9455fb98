// gzipSize where there is no node:zlib (browsers; package.json `imports` #gzip). Sizes differ from
// zlib's by a few tenths of a percent: both are deflate at the same level, with other match searches.
import { gzipSync } from 'fflate';

export function gzipLength(bytes: Uint8Array, level: number): number {
  return gzipSync(bytes, { level: level as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 }).length;
}

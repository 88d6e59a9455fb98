import { stat } from 'node:fs/promises';
import path from 'node:path';
import { resolveData, type DataPart, type Dataset } from '@shrink/core/data';

/**
 * The evaluation data behind `--data`. Presets and IDX folders bring their own test part, which is
 * what a score should use. A CSV/JSON file the user made for evaluating is scored whole, not an 80/20
 * split of it; `--split` overrides either default. `cwd` is where a relative path starts (a config file's folder).
 */
export async function evalData(spec: string, split?: DataPart, cwd?: string): Promise<Dataset> {
  const base = cwd !== undefined ? { cwd } : {};
  if (split !== undefined) return resolveData(spec, { split, ...base });
  const st = await stat(path.resolve(cwd ?? '.', spec)).catch(() => undefined);
  return resolveData(spec, { split: st?.isFile() ? 'all' : 'test', ...base });
}

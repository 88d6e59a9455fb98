import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { loggerOf, ShrinkError, type Ctx } from '@shrink/core';
import { quantizeTfjsWeights, type TfjsQuantizeOptions, type TfjsQuantizeReport } from '../tfjs-weights.js';

export interface TfjsFolderOptions extends TfjsQuantizeOptions {
  /** Allow outDir to be inDir (the folder is rewritten in place; shards the old manifest listed are left). */
  force?: boolean;
}

/**
 * Reads the tfjs layers-model folder `inDir`, quantizes its float32 weights (see quantizeTfjsWeights) and
 * writes model.json + one weight shard to `outDir` (created; files written atomically). The result
 * loads with tf.loadLayersModel, which dequantizes on load. Writing over `inDir` needs `force`.
 */
export async function quantizeTfjsFolder(
  inDir: string,
  outDir: string,
  options: TfjsFolderOptions = {},
  ctx?: Ctx,
): Promise<{ report: TfjsQuantizeReport; outDir: string }> {
  const { force = false, ...quantizeOptions } = options;
  if (!force && (await sameFolder(inDir, outDir))) {
    throw new ShrinkError(
      'IO',
      `output folder ${outDir} is the input folder; choose another output folder or pass force to rewrite it in place`,
    );
  }
  // tfjs costs ~0.3 s to load: only a tfjs folder pays for it, not every quantize run.
  const { readLayersModelDir, writeLayersModelDir } = await import('@shrink/core/tfjs');
  const artifacts = await readLayersModelDir(inDir);
  let result;
  try {
    result = quantizeTfjsWeights({ weightSpecs: artifacts.weightSpecs ?? [], weightData: artifacts.weightData ?? [] }, quantizeOptions);
  } catch (e) {
    if (e instanceof ShrinkError && (e.code === 'INVALID_MODEL' || e.code === 'INVALID_ARGUMENT')) {
      throw new ShrinkError(e.code, `${path.join(inDir, 'model.json')}: ${e.message}`, { cause: e });
    }
    throw e;
  }
  await writeLayersModelDir(outDir, { ...artifacts, weightSpecs: result.weightSpecs, weightData: result.weightData });
  const { report } = result;
  loggerOf(ctx).info(
    `quantized ${report.weights.length} of ${report.weights.length + report.skipped.length} weights to ${report.dtype}: ` +
      `${report.bytesBefore} -> ${report.bytesAfter} bytes, written to ${outDir}`,
  );
  return { report, outDir };
}

/** Same folder by path, or through symlinks when both exist. */
async function sameFolder(a: string, b: string): Promise<boolean> {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return false; // the output folder does not exist yet
  }
}

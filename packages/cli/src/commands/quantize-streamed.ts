/**
 * `shrink quantize --dtype q4` of a model too large to load: handed to @shrink/quantize's streamed path
 * (weights read and quantized a stripe at a time, the output written as it goes) before the generic pass
 * command would load it. Taken with --stream, or without the flag when the model's external data files
 * pass 1 GiB and the options can be streamed (q4, algo rtn or hqq); --no-stream always loads the model.
 * The measurement after the pass (fidelity, latency), which would load both models, is skipped and said.
 */
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { formatValue, ShrinkError, type Ctx } from '@shrink/core';
import { OUTPUT_NAMES, quantizeOptionsSchema } from '@shrink/quantize';
import { emit, type GlobalArgs } from '../output.js';
import { ensureDir, outputPath, refuseExisting } from '../paths.js';

/** External data above this many bytes takes the streamed path when --stream is not given. */
export const STREAM_FROM_BYTES = 2 ** 30;
const INLINE_FROM_BYTES = 256 * 2 ** 20;

export interface StreamArgs extends GlobalArgs {
  model: string;
  output?: string | undefined;
  force?: boolean | undefined;
  stream?: boolean | undefined;
}

/** Whether this run takes the streamed path: --stream (refused in one line when it cannot), or big external data. */
export async function wantsStream(argv: StreamArgs, options: Record<string, unknown>): Promise<boolean> {
  if (argv.stream === false) return false;
  const st = await stat(argv.model).catch(() => null);
  if (!st?.isFile()) return false;
  const { externalDataBytes, streamedRefusal } = await import('@shrink/quantize/runtime');
  const why = streamedRefusal(quantizeOptionsSchema.parse(pick(options)));
  if (argv.stream === true) {
    if (why) throw new ShrinkError('INVALID_ARGUMENT', why, { option: 'stream' });
    return true;
  }
  // An .onnx this large holds its weights inline: loading it is what reading it costs anyway.
  if (why || st.size > INLINE_FROM_BYTES) return false;
  // A model whose external data cannot be located is left to the usual path, which says what is wrong.
  const bytes = await externalDataBytes(argv.model).catch(() => 0);
  return bytes > STREAM_FROM_BYTES;
}

/** Runs the streamed q4 and prints what it wrote. */
export async function quantizeStreamedCommand(argv: StreamArgs, options: Record<string, unknown>, ctx: Ctx): Promise<void> {
  const { quantizeStreamed } = await import('@shrink/quantize/runtime');
  const o = quantizeOptionsSchema.parse(pick(options));
  const target =
    argv.output !== undefined ? outputPath(argv.output) : path.join(path.dirname(path.resolve(argv.model)), OUTPUT_NAMES[o.dtype]);
  await refuseExisting(target, argv.force === true);
  await ensureDir(path.dirname(target));
  const r = await quantizeStreamed(argv.model, target, o, {}, ctx);
  const outBytes = r.saved.bytes + (r.saved.externalDataBytes ?? 0);
  // Gathers of computed values (Shape -> Gather) hold no table: not candidates, so not listed as left float.
  const candidates = r.report.nodes.filter(
    (n) => n.opType !== 'Gather' || n.action === 'quantized' || !/is computed at run time|is a graph input/.test(n.reason ?? ''),
  );
  const quantized = candidates.filter((n) => n.action === 'quantized').length;
  const skipped = candidates.filter((n) => n.action !== 'quantized');
  const note =
    'not measured: the streamed path never loads the model, and a comparison would load both (run shrink compare where memory allows)';
  emit(
    argv,
    {
      output: r.saved.path,
      externalDataPath: r.saved.externalDataPath ?? null,
      streamed: { inputBytes: r.inputBytes, outputBytes: outBytes, ratio: outBytes / r.inputBytes, seconds: r.seconds },
      quantization: r.report,
      report: null,
      notes: [note],
    },
    () =>
      [
        ...r.report.notes,
        `${quantized} of ${candidates.length} MatMul/Gemm/Gather nodes quantized${skipped.length ? `; not quantized: ${skipped.map((n) => `${n.name} (${n.reason ?? n.action})`).join('; ')}` : ''}`,
        `${formatValue(r.inputBytes, 'bytes')} -> ${formatValue(outBytes, 'bytes')} (${(outBytes / r.inputBytes).toFixed(3)}x) in ${r.seconds.toFixed(1)} s`,
        note,
        `wrote ${r.saved.path}${r.saved.externalDataPath ? ` (+ ${r.saved.externalDataPath})` : ''}`,
      ].join('\n'),
  );
}

/** The quantize options among the command's (the pass schema adds explain, the accuracy fallback and the speed guard). */
function pick(options: Record<string, unknown>): Record<string, unknown> {
  const keys = new Set(Object.keys(quantizeOptionsSchema.shape));
  return Object.fromEntries(Object.entries(options).filter(([k, v]) => keys.has(k) && v !== undefined));
}

import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { convertOpset, MAX_CONVERTIBLE_OPSET, ShrinkError, type ConvertOpsetResult } from '@shrink/core';
import { saveModel } from '@shrink/core/io';
import { createSession } from '@shrink/core/runtime';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type ArgsOf, type GlobalArgs } from '../output.js';
import { ensureDir, outputPath } from '../paths.js';

const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('input', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' })
    .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'Output .onnx path, or folder with --to tfjs' })
    .option('to', { choices: ['onnx', 'tfjs'] as const, default: 'onnx' as const, describe: 'Output format' })
    .option('external-data', { type: 'boolean', describe: 'Store initializers >= 1 KiB in <output>_data beside the model' })
    .option('opset', {
      type: 'number',
      describe: `Convert the default-domain opset to N (${MIN_TARGET_OPSET}..${MAX_TARGET_OPSET}), rewriting the ops whose signatures changed`,
    })
    .option('force', { type: 'boolean', describe: 'Allow overwriting an input file' });
type Args = ArgsOf<typeof builder>;

/** onnxruntime guarantees opset 7 and up; below that it only may run a model. */
const MIN_TARGET_OPSET = 7;
/**
 * The converter's schema tables end at 21 (onnxruntime-node 1.30 runs up to 23, so 21 is the binding
 * limit); raise it together with core's MAX_CONVERTIBLE_OPSET.
 */
const MAX_TARGET_OPSET = Math.min(MAX_CONVERTIBLE_OPSET, 21);

export const convertCommand: CommandModule<GlobalArgs, Args> = {
  command: 'convert <input>',
  describe:
    'Re-save ONNX (optionally with external data or at another opset), export a tfjs model folder to ONNX, or import ONNX into a tfjs folder',
  builder,
  handler: async (argv) => {
    const ctx = ctxFromArgs(argv);
    const input = await loadModelInput(argv.input, ctx);
    const target = outputPath(argv.output);
    if (argv.to === 'tfjs') {
      if (input.inputs.includes(target) && argv.force !== true) {
        throw new ShrinkError(
          'IO',
          `refusing to overwrite input ${argv.input} with --to tfjs output ${target}; choose another folder or use --force`,
        );
      }
      // ONNX models made elsewhere (PyTorch exports) become tfjs models that can be fine-tuned and distilled.
      const { initTf, importFromOnnx, saveLayersModel } = await import('@shrink/core/tfjs');
      const { tf } = await initTf(ctx);
      const { model, report } = importFromOnnx(input.model, tf);
      try {
        await saveLayersModel(model, target);
      } finally {
        model.dispose();
      }
      const nchw = report.inputs.filter((i) => i.layout === 'nchw').map((i) => i.name);
      emit(argv, { input: argv.input, format: input.format, output: target, to: 'tfjs', inputs: report.inputs }, () =>
        [
          `wrote tfjs model ${target}/ (model.json + weights)`,
          ...(nchw.length ? [`NCHW inputs ${nchw.join(', ')} became NHWC in tfjs: transpose images with [0, 2, 3, 1]`] : []),
        ].join('\n'),
      );
      return;
    }
    let converted: ConvertOpsetResult | undefined;
    if (argv.opset !== undefined) {
      const n = argv.opset;
      if (!Number.isInteger(n) || n < MIN_TARGET_OPSET || n > MAX_TARGET_OPSET) {
        throw new ShrinkError(
          'INVALID_ARGUMENT',
          `${n} is not a convertible opset; use an integer from ${MIN_TARGET_OPSET} to ${MAX_TARGET_OPSET}`,
          {
            option: 'opset',
          },
        );
      }
      converted = convertOpset(input.model, n);
      // The original may be one onnxruntime refuses (opset-6 Gemm): the converted model is what must load.
      const session = await createSession(converted.model, { label: `${input.path} at opset ${n}` }, ctx);
      await session.release();
    } else {
      // Re-saving passes the graph through unchanged, so a model onnxruntime refuses would come out as a
      // new file it refuses too: refuse it here, before anything is written. From the path when there is
      // one, so external data and > 2 GiB models are opened the way onnxruntime opens them.
      const session = await createSession(input.onnxPath ?? input.model, { label: input.path }, ctx);
      await session.release();
    }
    await ensureDir(path.dirname(target));
    const saved = await saveModel(converted?.model ?? input.model, target, {
      externalData: argv.externalData === true,
      force: argv.force === true,
      inputs: input.inputs,
    });
    emit(
      argv,
      {
        input: argv.input,
        format: input.format,
        output: saved.path,
        to: 'onnx',
        bytes: saved.bytes,
        externalDataPath: saved.externalDataPath ?? null,
        externalDataBytes: saved.externalDataBytes ?? null,
        ...(converted
          ? {
              opset: {
                from: converted.fromOpset,
                to: converted.toOpset,
                irVersion: converted.irVersion,
                nodesChanged: converted.nodesChanged,
                counts: converted.counts,
                changes: converted.changes,
                notes: converted.notes,
              },
            }
          : {}),
      },
      () =>
        [
          ...(converted ? opsetLines(converted) : []),
          `wrote ${saved.path} (${saved.bytes} bytes)`,
          ...(saved.externalDataPath ? [`external data ${saved.externalDataPath} (${saved.externalDataBytes} bytes)`] : []),
        ].join('\n'),
    );
  },
};

/** What the conversion changed: one line, then the counts per op, then the notes. */
function opsetLines(r: ConvertOpsetResult): string[] {
  const counts = Object.entries(r.counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return [
    `opset ${r.fromOpset} → ${r.toOpset}: ${r.nodesChanged} node${r.nodesChanged === 1 ? '' : 's'} changed`,
    ...(counts.length ? [`  ${counts.map(([op, n]) => `${op} ${n}`).join(', ')}`] : []),
    ...r.notes.map((n) => `  note: ${n}`),
  ];
}

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { saveModel } from '@shrink/core/io';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type GlobalArgs } from '../output.js';

interface Args extends GlobalArgs {
  input: string;
  output: string;
  externalData?: boolean;
  force?: boolean;
}

export const convertCommand: CommandModule<GlobalArgs, Args> = {
  command: 'convert <input>',
  describe: 'Re-save an ONNX model (optionally with external data), or export a tfjs model folder to ONNX',
  builder: (y) =>
    y
      .positional('input', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'Output .onnx path' })
      .option('external-data', { type: 'boolean', describe: 'Store initializers >= 1 KiB in <output>_data beside the model' })
      .option('force', { type: 'boolean', describe: 'Allow overwriting an input file' }),
  handler: async (argv) => {
    const ctx = ctxFromArgs(argv);
    const input = await loadModelInput(argv.input, ctx);
    const target = path.resolve(argv.output);
    await mkdir(path.dirname(target), { recursive: true });
    const saved = await saveModel(input.model, target, {
      externalData: argv.externalData === true,
      force: argv.force === true,
      inputs: input.inputs,
    });
    emit(argv, { input: argv.input, format: input.format, output: saved.path, bytes: saved.bytes, externalDataPath: saved.externalDataPath, externalDataBytes: saved.externalDataBytes }, () =>
      [
        `wrote ${saved.path} (${saved.bytes} bytes)`,
        ...(saved.externalDataPath ? [`external data ${saved.externalDataPath} (${saved.externalDataBytes} bytes)`] : []),
      ].join('\n'),
    );
  },
};

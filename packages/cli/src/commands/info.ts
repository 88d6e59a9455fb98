import type { CommandModule } from 'yargs';
import Table from 'cli-table3';
import { encodeModel, gzipSize, modelInfo, modelInfoRows } from '@shrink/core';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type GlobalArgs } from '../output.js';

interface Args extends GlobalArgs {
  model: string;
}

export const infoCommand: CommandModule<GlobalArgs, Args> = {
  command: 'info <model>',
  describe: 'Format, opsets, inputs/outputs, parameters (by dtype, quantized, in subgraphs), size, ops and MACs of a model',
  builder: (y) => y.positional('model', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' }),
  handler: async (argv) => {
    const input = await loadModelInput(argv.model, ctxFromArgs(argv));
    const m = input.model;
    const info = {
      path: input.path,
      format: input.format,
      ...modelInfo(m, { sizeBytes: input.diskBytes, gzipBytes: gzipSize(encodeModel(m)) }),
    };
    // The same rows the web page shows (core's modelInfoRows), laid out as a terminal table.
    emit(argv, info, () => {
      const t = new Table({ style: { head: [], border: [] } });
      t.push(...modelInfoRows(info, { name: info.path, format: info.format }).map((r) => [r.label, r.value]));
      return t.toString();
    });
  },
};

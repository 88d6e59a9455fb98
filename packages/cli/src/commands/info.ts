import type { CommandModule } from 'yargs';
import Table from 'cli-table3';
import { countMacs, countOps, countParams, gzipSize, encodeModel, Graph, formatValue, type onnx } from '@shrink/core';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type GlobalArgs } from '../output.js';

interface Args extends GlobalArgs {
  model: string;
}

function valueInfo(g: Graph, v: onnx.IValueInfoProto) {
  const name = v.name ?? '';
  return { name, dtype: g.dtypeOf(name) ?? 'unknown', shape: g.shapeOf(name) ?? null };
}

export const infoCommand: CommandModule<GlobalArgs, Args> = {
  command: 'info <model>',
  describe: 'Format, opsets, inputs/outputs, parameters, size, ops and MACs of a model',
  builder: (y) => y.positional('model', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' }),
  handler: async (argv) => {
    const input = await loadModelInput(argv.model, ctxFromArgs(argv));
    const m = input.model;
    const g = Graph.from(m);
    const encoded = encodeModel(m);
    const params = countParams(m);
    const macs = countMacs(m);
    const info = {
      path: input.path,
      format: input.format,
      irVersion: Number(m.irVersion ?? 0),
      producer: [m.producerName, m.producerVersion].filter(Boolean).join(' '),
      opsets: Object.fromEntries((m.opsetImport ?? []).map((o) => [o.domain || 'ai.onnx', Number(o.version ?? 0)])),
      inputs: g.feedInputs.map((v) => valueInfo(g, v)),
      outputs: g.outputs.map((v) => valueInfo(g, v)),
      params: params.params,
      nonZeroParams: params.nonZero,
      paramsByDtype: params.byDtype,
      sizeBytes: input.diskBytes,
      gzipBytes: gzipSize(encoded),
      ops: countOps(m),
      nodes: m.graph?.node?.length ?? 0,
      macs: macs.total,
      macsUnknown: macs.unknown,
    };
    emit(argv, info, () => {
      const t = new Table({ style: { head: [], border: [] } });
      const shape = (s: unknown) => (Array.isArray(s) ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '?');
      t.push(
        ['model', `${info.path} (${info.format}, IR ${info.irVersion}${info.producer ? `, ${info.producer}` : ''})`],
        [
          'opsets',
          Object.entries(info.opsets)
            .map(([d, v]) => `${d} ${v}`)
            .join(', '),
        ],
        ['inputs', info.inputs.map((v) => `${v.name}: ${v.dtype} ${shape(v.shape)}`).join('\n')],
        ['outputs', info.outputs.map((v) => `${v.name}: ${v.dtype} ${shape(v.shape)}`).join('\n')],
        ['parameters', `${formatValue(info.params, 'count')} (non-zero ${formatValue(info.nonZeroParams, 'count')})`],
        ['size', `${formatValue(info.sizeBytes, 'bytes')} (gzip ${formatValue(info.gzipBytes, 'bytes')})`],
        [
          'MACs / sample',
          `${formatValue(info.macs, 'count')}${info.macsUnknown.length ? ` (not counted: ${info.macsUnknown.join(', ')})` : ''}`,
        ],
        [
          'ops',
          Object.entries(info.ops)
            .map(([k, v]) => `${k} x${v}`)
            .join(', '),
        ],
      );
      return t.toString();
    });
  },
};

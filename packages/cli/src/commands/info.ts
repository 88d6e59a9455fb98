import type { CommandModule } from 'yargs';
import Table from 'cli-table3';
import { countMacs, countOps, countParams, describeMacs, gzipSize, encodeModel, Graph, formatValue, type onnx } from '@shrink/core';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type GlobalArgs } from '../output.js';

interface Args extends GlobalArgs {
  model: string;
}

function valueInfo(g: Graph, v: onnx.IValueInfoProto) {
  const name = v.name ?? '';
  return { name, dtype: g.dtypeOf(name) ?? 'unknown', shape: g.shapeOf(name) ?? null };
}

/**
 * The exporter, from producer_name, else from the names it leaves: paddle2onnx writes no producer but
 * names its dynamic dims 'p2o.DynamicDimension.N'; tf2onnx and PyTorch leave their own marks.
 */
function producerOf(m: onnx.IModelProto): string {
  const named = [m.producerName, m.producerVersion].filter(Boolean).join(' ');
  if (named) return named;
  const dims = (m.graph?.input ?? []).flatMap((v) => (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam ?? ''));
  if (dims.some((d) => d.startsWith('p2o.'))) return 'paddle2onnx (from its dim names; no producer_name)';
  const names = (m.graph?.node ?? []).slice(0, 50).map((n) => n.name ?? '');
  if (names.some((n) => n.includes('StatefulPartitionedCall/'))) return 'tf2onnx (from its node names; no producer_name)';
  if (names.some((n) => n.startsWith('/') && n.includes('/'))) return 'pytorch (from its node names; no producer_name)';
  return '';
}

const counts = (r: Record<string, number>, unit: 'count' | '' = 'count') =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => (unit === 'count' ? `${k} ${formatValue(v, 'count')}` : `${v} ${k}`))
    .join(', ');

export const infoCommand: CommandModule<GlobalArgs, Args> = {
  command: 'info <model>',
  describe: 'Format, opsets, inputs/outputs, parameters (by dtype, quantized, in subgraphs), size, ops and MACs of a model',
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
      producer: producerOf(m),
      opsets: Object.fromEntries((m.opsetImport ?? []).map((o) => [o.domain || 'ai.onnx', Number(o.version ?? 0)])),
      inputs: g.feedInputs.map((v) => valueInfo(g, v)),
      outputs: g.outputs.map((v) => valueInfo(g, v)),
      // Every weight, float or quantized codes; scales and zero points are not parameters.
      params: params.total,
      nonZeroParams: params.nonZero + params.quantizedNonZero,
      paramsByDtype: params.paramsByDtype,
      quantizedOps: params.quantizedOps,
      quantParams: params.quantParams,
      subgraphs: params.subgraphs,
      storedByDtype: params.byDtype,
      sizeBytes: input.diskBytes,
      gzipBytes: gzipSize(encoded),
      ops: countOps(m),
      nodes: m.graph?.node?.length ?? 0,
      macs: macs.total,
      macsLowerBound: macs.lowerBound,
      macsUnknown: macs.unknown,
      macsAssumed: macs.assumed,
      macsInputShapes: macs.inputShapes,
      macsMethod: describeMacs(macs),
    };
    emit(argv, info, () => {
      const t = new Table({ style: { head: [], border: [] } });
      const shape = (s: unknown) => (Array.isArray(s) ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '?');
      const sub = info.subgraphs;
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
        ['params by dtype', counts(info.paramsByDtype) || 'none'],
        ...(Object.keys(info.quantizedOps).length
          ? [
              [
                'quantized weights',
                `${counts(info.quantizedOps, '')}; ${formatValue(info.quantParams, 'count')} scales and zero points (not parameters)`,
              ],
            ]
          : []),
        ...(sub.graphs
          ? [
              [
                'subgraphs',
                `${sub.graphs} (If/Loop/Scan bodies): ${formatValue(sub.params, 'count')} parameters in ${sub.tensors} stored tensors`,
              ],
            ]
          : []),
        ['size', `${formatValue(info.sizeBytes, 'bytes')} (gzip ${formatValue(info.gzipBytes, 'bytes')})`],
        ['MACs', `${info.macsLowerBound ? '≥ ' : ''}${formatValue(info.macs, 'count')}: ${info.macsMethod}`],
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

/**
 * The rows `shrink info` prints and the web page shows for a model, built once so the terminal table and
 * the page's table cannot drift apart: each renderer only lays them out.
 */
import { formatValue } from './format.js';
import type { ModelInfo, ValueInfo } from './model-info.js';

export interface InfoRow {
  readonly label: string;
  /** Plain text (renderers escape it); '\n' separates lines (one input or output per line). */
  readonly value: string;
}

const shape = (s: ValueInfo['shape']) => (s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '?');
const values = (vs: readonly ValueInfo[]) => vs.map((v) => `${v.name}: ${v.dtype} ${shape(v.shape)}`).join('\n');

/** Largest first; with unit '' the number leads ('3 MatMulNBits (4-bit, block 32)'). */
const counts = (r: Record<string, number>, unit: 'count' | '' = 'count') =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => (unit === 'count' ? `${k} ${formatValue(v, 'count')}` : `${v} ${k}`))
    .join(', ');

/**
 * `model.name` is what the model is called where it is shown (the CLI's path, the page's file name);
 * `model.format` where it may not be ONNX ('tfjs' for a folder the CLI exported). Rows with nothing to
 * say (no quantized weights, no subgraphs) are left out.
 */
export function modelInfoRows(info: ModelInfo, model: { name: string; format?: string | undefined }): InfoRow[] {
  const about = [model.format, `IR ${info.irVersion}`, info.producer].filter(Boolean).join(', ');
  const sub = info.subgraphs;
  const rows: Array<InfoRow | false> = [
    { label: 'model', value: `${model.name} (${about})` },
    {
      label: 'opsets',
      value: Object.entries(info.opsets)
        .map(([d, v]) => `${d} ${v}`)
        .join(', '),
    },
    { label: 'inputs', value: values(info.inputs) },
    { label: 'outputs', value: values(info.outputs) },
    {
      label: 'parameters',
      value: `${formatValue(info.params, 'count')} (non-zero ${formatValue(info.nonZeroParams, 'count')})`,
    },
    { label: 'params by dtype', value: counts(info.paramsByDtype) || 'none' },
    Object.keys(info.quantizedOps).length > 0 && {
      label: 'quantized weights',
      value: `${counts(info.quantizedOps, '')}; ${formatValue(info.quantParams, 'count')} scales and zero points (not parameters)`,
    },
    sub.graphs > 0 && {
      label: 'subgraphs',
      value: `${sub.graphs} (If/Loop/Scan bodies): ${formatValue(sub.params, 'count')} parameters in ${sub.tensors} stored tensors`,
    },
    {
      label: 'size',
      value: `${formatValue(info.sizeBytes, 'bytes')}${info.gzipBytes === undefined ? '' : ` (gzip ${formatValue(info.gzipBytes, 'bytes')})`}`,
    },
    { label: 'MACs', value: `${info.macsLowerBound ? '≥ ' : ''}${formatValue(info.macs, 'count')}: ${info.macsMethod}` },
    {
      label: 'ops',
      value: Object.entries(info.ops)
        .map(([k, v]) => `${k} x${v}`)
        .join(', '),
    },
  ];
  return rows.filter((r): r is InfoRow => r !== false);
}

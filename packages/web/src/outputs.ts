/**
 * What the page offers to download: the model under the name transformers.js looks for (OUTPUT_NAMES, as
 * `shrink quantize` names it), the report JSON, and a shrink.config.yaml that `shrink run` reproduces the
 * run with.
 */
import { createReport, metric, type CandidateReport, type LayerDetail, type Report } from '@shrink/core';
import { OUTPUT_NAMES, type QuantDtype } from '@shrink/quantize';
import type { ModelInfo } from './model-info.js';
import type { MeasureResult } from './measure/ort-measure.js';
import type { BrowserTarget, StepDone } from './protocol.js';

/** The output's file name: the last quantize step's transformers.js name, else `<input>_<last step>.onnx`. */
export function outputName(input: string, steps: ReadonlyArray<{ kind: string; options: Record<string, unknown> }>): string {
  const q = [...steps].reverse().find((s) => s.kind === 'quantize');
  const dtype = (q?.options['dtype'] as QuantDtype | undefined) ?? (q ? 'q8' : undefined);
  if (dtype !== undefined && OUTPUT_NAMES[dtype]) return OUTPUT_NAMES[dtype];
  const base = input.replace(/\.onnx$/i, '');
  return `${base}_${steps.at(-1)?.kind ?? 'copy'}.onnx`;
}

/** A YAML scalar: JSON's double-quoted strings, numbers and booleans are YAML too. */
const scalar = (v: unknown): string => JSON.stringify(v);

function flow(options: Record<string, unknown>): string {
  const entries = Object.entries(options).map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.map(scalar).join(', ')}]` : scalar(v)}`);
  return `{ ${entries.join(', ')} }`;
}

/**
 * The pipeline config of the run. The page runs no speed guard (it cannot profile per node), so passes
 * that have one get `allowSlower: true`: the same output as here, whatever this machine's speed.
 */
export function configYaml(
  model: string,
  target: BrowserTarget,
  steps: ReadonlyArray<{ kind: string; options: Record<string, unknown> }>,
  guarded: (kind: string) => boolean,
): string {
  const lines = [
    '# Made by Shrink in the browser. Reproduce the run (from the folder holding the model):',
    '#   shrink run shrink.config.yaml',
    `model: ${scalar(model)}`,
    `target: ${target}`,
    'steps:',
    ...steps.map((s) => `  - ${s.kind}: ${flow(guarded(s.kind) ? { ...s.options, allowSlower: true } : s.options)}`),
    'output: shrink-out',
    '',
  ];
  return lines.join('\n');
}

export interface RunRecord {
  readonly input: string;
  readonly output: string;
  readonly before: ModelInfo;
  readonly after: ModelInfo;
  readonly steps: StepDone[];
  readonly layers: LayerDetail[];
  readonly notes: string[];
  readonly target: BrowserTarget;
}

/** The report (core's model: the same JSON the CLI writes, rendered by the same renderHtml). */
export function buildReport(run: RunRecord, measured?: MeasureResult): Report {
  const metrics: CandidateReport['metrics'] = {
    'size.bytes': metric('size.bytes', run.before.sizeBytes, run.after.sizeBytes),
    params: metric('params', run.before.params, run.after.params),
    macs: metric('macs', run.before.macs, run.after.macs),
  };
  const notes = [...run.notes];
  if (measured) {
    const method = `interleaved A/B (alternating order), ${measured.runtime}, ${measured.rounds} rounds; ratio = per-round B/A, in this browser`;
    metrics['latency.p50'] = metric('latency.p50', measured.baselineMs.p50, measured.candidateMs.p50, { method, ratio: measured.ratio });
    metrics['latency.p90'] = metric('latency.p90', measured.baselineMs.p90, measured.candidateMs.p90, { method });
    const worst = Math.min(...Object.values(measured.cosine));
    if (Number.isFinite(worst))
      metrics['fidelity.cosineSimilarity'] = metric('fidelity.cosineSimilarity', undefined, worst, {
        method: `worst output, on ${measured.samples}`,
      });
    metrics['fidelity.maxAbsError'] = metric('fidelity.maxAbsError', undefined, measured.maxAbsError, { method: measured.samples });
    notes.push(
      `measured in this browser: ${Object.entries(measured.cosine)
        .map(([k, v]) => `${k} cosine ${v.toFixed(5)}`)
        .join(', ')}`,
    );
  }
  const report = createReport({
    baseline: { name: run.input },
    candidates: [
      {
        name: run.output,
        metrics,
        notes,
        layers: run.layers,
        steps: run.steps.map((s) => ({ kind: s.kind, options: s.options, seconds: s.seconds, notes: s.notes })),
      },
    ],
    environment: { shrink: 'web', platform: 'browser', userAgent: navigator.userAgent },
    notes: ['made in the browser: nothing was uploaded'],
  });
  report.target = {
    name: run.target,
    runtime: run.target === 'webgpu' ? 'onnxruntime-web-webgpu' : 'onnxruntime-web-wasm',
    isa: 'wasm',
    measured: measured !== undefined && run.target === 'wasm',
    measurement: measured ? `measured in onnxruntime-web wasm in this browser` : 'not measured yet',
  };
  return report;
}

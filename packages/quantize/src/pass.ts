/**
 * Quantization as a registry pass (see @shrink/core's Pass): the options of a `quantize:` step and of
 * `shrink quantize`, what they need, and the run, which loads the onnxruntime side only when it runs.
 */
import { z } from 'zod';
import {
  accuracyFallbackShape,
  speedGuardShape,
  checkAccuracyFallback,
  countParams,
  definePass,
  formatValue,
  ShrinkError,
  type LayerDetail,
} from '@shrink/core';
import { calibrationMissing, checkCombination, needsCalibration } from './check-options.js';
import { formatsForTarget } from './target-formats.js';
import { resolveMode } from './auto-mode.js';
import { quantizeOptionsSchema } from './options.js';
import type { NodeOutcome, QuantizeReport } from './types.js';

export const quantizePassSchema = quantizeOptionsSchema.extend({
  explain: z
    .boolean()
    .optional()
    .describe(
      'Per-layer output error (SQNR) of the quantized model on up to 64 samples of the evaluation (or calibration) data; default: on where such data is given to a pipeline step, off for the command (which prints a table)',
    ),
  ...accuracyFallbackShape,
  ...speedGuardShape,
});

export type QuantizePassOptions = z.output<typeof quantizePassSchema>;

const byDtype = (m: Record<string, number>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${formatValue(v, 'count')}`)
    .join(', ');

/**
 * Whether a report row is a node that had a weight to quantize. A Gather whose data is computed at run
 * time (Shape -> Gather picking a dim, a state tensor sliced) holds no weight: its row stays in --json
 * with its reason, but it is neither a candidate nor "not quantized".
 */
export function isCandidate(n: NodeOutcome): boolean {
  if (n.action === 'quantized') return true;
  // planWeight names the table 'weight'; a lookup's own check names it 'data'.
  if (n.opType === 'Gather') return !/^(data|weight) '[^']*' is computed at run time/.test(n.reason ?? '');
  // A Slice is a candidate only over a float table (learned positions); shape vectors are not weights.
  if (n.opType === 'Slice') return !/^data '[^']*' is not a constant 2-D float table/.test(n.reason ?? '');
  return true;
}

/** The notes every front end shows for a quantization: what was quantized, what passed through, the pass's own notes. */
export function quantizeNotes(q: QuantizeReport, before: Record<string, number>, after: Record<string, number>): string[] {
  const candidates = q.nodes.filter(isCandidate);
  return [
    `${q.dtype}${q.mode === q.dtype ? '' : ` ${q.mode}`}: ${candidates.filter((n) => n.action === 'quantized').length} of ${candidates.length} candidate nodes quantized`,
    `parameters by dtype: baseline ${byDtype(before)}; quantized ${byDtype(after)}`,
    ...(Object.keys(q.unhandled).length
      ? [
          `passed through untouched: ${Object.entries(q.unhandled)
            .map(([k, v]) => `${k} x${v}`)
            .join(', ')}`,
        ]
      : []),
    ...q.notes,
  ];
}

/** A candidate name's bits suffix when q4/q4f16 asks for other than 4 bits. */
const lowBits = (o: QuantizePassOptions): string =>
  o.bits !== undefined && o.bits !== 4 && (o.dtype === 'q4' || o.dtype === 'q4f16') ? `-${o.bits}bit` : '';

export const quantizePass = definePass({
  kind: 'quantize',
  summary: 'Quantize an ONNX model: int8 dynamic/static, int4/int8 weight-only, fp16',
  schema: quantizePassSchema,
  check(o, available) {
    checkCombination(o);
    if (needsCalibration(o) && o.calibData === undefined && !available.calibration) {
      throw new ShrinkError('INVALID_ARGUMENT', calibrationMissing(o), {
        option: 'calibData',
        missing: 'calibration',
      });
    }
    checkAccuracyFallback(o, available);
  },
  needs: (o) => ({ calibration: needsCalibration(o) }),
  // Dynamic q8 has int8-storage float-compute forms; static QDQ, weight-only, q4 and fp16 have none.
  floatComputes: (o) => o.dtype === 'q8' && (o.mode === 'dynamic' || (o.mode === 'auto' && o.calibData === undefined)),
  describe: (o) =>
    `${o.dtype}${o.mode !== 'dynamic' && o.mode !== 'auto' ? `-${o.mode}` : ''}${o.perChannel ? '-pc' : ''}${o.weightType && o.weightType !== o.dtype ? `-${o.weightType}` : ''}${o.reduceRange === false ? '-fullrange' : ''}${lowBits(o)}${o.targetBits !== undefined ? `-mix${o.targetBits}` : ''}${o.sizeBudget !== undefined ? `-max${o.sizeBudget.replace(/\s+/g, '')}` : ''}${o.algo !== 'rtn' ? `-${o.algo}` : ''}`,
  // The choices transformers.js names; static needs calibration data.
  searchSpace: (available): Array<z.input<typeof quantizePassSchema> | null> => [
    null,
    { dtype: 'q8' },
    { dtype: 'q8', perChannel: true },
    ...(available.calibration ? [{ dtype: 'q8' as const, mode: 'static' as const }] : []),
    { dtype: 'q4' },
    { dtype: 'fp16' },
  ],
  async run(model, o, { data, ctx }) {
    const { explainQuantization, isFeedSet, quantizeModel, resolveCalibration } = await import('./runtime/index.js');
    // The accuracy fallback is the runner's (runPass), around this run.
    const { explain, maxAccuracyDrop: _, allowSlower: __, ...asked } = o;
    const spec = asked.calibData ?? data.calibrationSpec;
    // WebGPU has no QuantizeLinear kernel: static QDQ would put every activation's quantization on the CPU.
    // Only calibration asked for by name (calibData) turns auto static: evaluation data or a feeds file given
    // for measuring is no promise that static ranges suit the model (an STFT Conv with an infinite Clip bound).
    const auto = resolveMode(asked, model, asked.calibData !== undefined && ctx.target?.info.runtime !== 'onnxruntime-web-webgpu');
    const chosen = formatsForTarget({ ...asked, mode: auto.mode }, ctx.target);
    const options = chosen.options;
    if (auto.note) chosen.notes.unshift(auto.note);
    // Static mode calibrates on the calibration data; fp16's range check runs the float32 model on it too
    // (a feeds file works), else on the evaluation data, else on synthetic samples.
    const halves = options.dtype === 'fp16' || options.dtype === 'q4f16';
    const mixed = options.targetBits !== undefined || options.sizeBudget !== undefined;
    const given =
      (needsCalibration(options) || halves || mixed) && spec !== undefined
        ? await resolveCalibration(spec, model, data.cwd !== undefined ? { cwd: data.cwd } : {}, ctx)
        : undefined;
    const calibration = needsCalibration(options) || mixed ? given : undefined;
    const evalSet = await data.eval();
    const ranges = halves ? (given ?? evalSet) : undefined;
    const env = { ...(calibration ? { calibration } : {}), ...(ranges ? { ranges } : {}) };
    const r = await quantizeModel(model, options, env, ctx);
    const notes = [...quantizeNotes(r.report, countParams(model).byDtype, countParams(r.model).byDtype), ...chosen.notes];
    // Rows that held no weight (a Slice of a shape vector, a Gather of a computed value) stay in the
    // quantization report but are not layers: "changed nothing" and the layer table list candidates only.
    const byNode = new Map<string, LayerDetail>(
      r.report.nodes.filter(isCandidate).map((n) => [
        n.name,
        {
          name: n.name,
          opType: n.opType,
          action: n.action === 'quantized' ? 'quantized' : `${n.action}${n.reason ? `: ${n.reason}` : ''}`,
        },
      ]),
    );
    // The per-layer error runs on a dataset; a feed set calibrates only.
    const sample = evalSet ?? (calibration && !isFeedSet(calibration) ? calibration : undefined);
    let explained: Awaited<ReturnType<typeof explainQuantization>> | undefined;
    if (explain === true && !sample) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        'the per-layer error needs a dataset: give evaluation data or a calibration dataset (a feeds file only calibrates)',
        {
          option: 'explain',
        },
      );
    }
    if ((explain ?? true) && sample) {
      try {
        explained = await explainQuantization(model, r.model, r.report, sample, { samples: 64 }, ctx);
        for (const e of explained) {
          const row = byNode.get(e.node) ?? { name: e.node, opType: e.opType };
          // Infinity (identical outputs) has no JSON form; the action says the layer is there.
          if (Number.isFinite(e.sqnrDb)) row.sqnrDb = e.sqnrDb;
          byNode.set(e.node, row);
        }
      } catch (e) {
        if (explain === true) throw e;
        notes.push(`per-layer SQNR not measured: ${(e as Error).message}`);
      }
    }
    return {
      model: r.model,
      notes,
      layers: [...byNode.values()],
      trained: false,
      changed: r.report.nodes.filter((n) => n.action === 'quantized'),
      report: { quantization: r.report, explain: explained ?? null, fallback: null },
    };
  },
});

import { countMacs, type onnx } from '@shrink/core';
import type { ResolvedQuantizeOptions } from './options.js';

export type ConcreteMode = Exclude<ResolvedQuantizeOptions['mode'], 'auto'>;

/**
 * Share of the model's counted MACs at or above which `mode: auto` quantizes statically when calibration
 * data is given. Measured (BENCHMARKS.md, issue #14): on conv nets static QDQ runs Conv as QLinearConv,
 * ResNet-18 at 0.34x fp32 on AVX512-VNNI and 0.57x on AVX2, where dynamic q8 computes Conv in float
 * (1.0x); on transformer encoders static QDQ ran slower than float (bert-tiny: every node rolled back by
 * the speed guard), while dynamic MatMulInteger pays.
 */
export const STATIC_CONV_SHARE = 0.5;

/** The mode `auto` stands for: static for conv nets given calibration data, dynamic otherwise. */
export function resolveMode(
  o: Pick<ResolvedQuantizeOptions, 'dtype' | 'mode'>,
  model: onnx.IModelProto,
  hasCalibration: boolean,
): { mode: ConcreteMode; note?: string } {
  if (o.mode !== 'auto') return { mode: o.mode };
  const eightBit = o.dtype === 'q8' || o.dtype === 'int8' || o.dtype === 'uint8';
  if (!eightBit || !hasCalibration) return { mode: 'dynamic' };
  const macs = countMacs(model);
  const conv = macs.byNode.filter((n) => n.opType === 'Conv').reduce((a, n) => a + n.macs, 0);
  const share = macs.total > 0 ? conv / macs.total : 0;
  const pct = `${(share * 100).toFixed(0)} % of the MACs are in Conv`;
  return share >= STATIC_CONV_SHARE
    ? {
        mode: 'static',
        note: `mode auto: static QDQ (calibration data given and ${pct}: QLinearConv runs int8 where dynamic q8 computes Conv in float)`,
      }
    : {
        mode: 'dynamic',
        note: `mode auto: dynamic (calibration data given, but only ${pct}; static QDQ pays on conv nets, not on MatMul-heavy models)`,
      };
}

/**
 * Mixed precision for the weight-only pass: `targetBits` (average stored code bits per weight) or
 * `sizeBudget` (bytes of the whole written model) become a bit width per weight key, chosen by
 * allocateBits from each weight's error at each width. A size budget is met exactly: the file at the
 * asked bits is measured once, and what is not a candidate's blocks (graph, float tensors) is fixed.
 */
import { encodeModel, formatValue, ShrinkError, type onnx } from '@shrink/core';
import { storedBits, type GridBits } from '../ops/nbits-blocks.js';
import type { ResolvedQuantizeOptions } from '../options.js';
import { allocateBits, type BitsAllocation, type BitsBudget, type BitsCandidate } from './allocate-bits.js';

export type MixedOptions = Pick<
  ResolvedQuantizeOptions,
  'blockSize' | 'symmetric' | 'algo' | 'include' | 'exclude' | 'targetBits' | 'sizeBudget'
> & { bits: GridBits; float16?: boolean };

export interface MixedChoice {
  readonly bits: ReadonlyMap<string, GridBits>;
  readonly allocation: BitsAllocation;
  readonly notes: string[];
}

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** "12MB", "1.5 GiB", "800000" -> bytes (the schema's pattern has admitted the form). */
export function parseByteSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i.exec(s);
  if (!m)
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `sizeBudget '${s}' is not a size: write bytes or a number with B, KB, MB, GB, KiB, MiB or GiB`,
      { option: 'sizeBudget' },
    );
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

/** A target below what the asked bits store is refused before any work. */
export function checkTargetBits(o: Pick<MixedOptions, 'targetBits' | 'bits'>): void {
  const low = storedBits(o.bits);
  if (o.targetBits !== undefined && o.targetBits < low) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `targetBits ${o.targetBits} is below the ${low} bits every weight is stored in at bits ${o.bits}: raise targetBits or lower bits`,
      { option: 'targetBits' },
    );
  }
}

/**
 * The bits per weight key, or undefined when neither option is set (or nothing is a candidate). `sizeAt` writes the model with every
 * candidate at the asked bits and returns its encoded size (sizeBudget only).
 */
export function chooseMixedBits(
  candidates: readonly BitsCandidate[],
  o: MixedOptions,
  /** How the candidates' errors were taken, for the report. */
  weighedBy: string,
  sizeAt: () => onnx.IModelProto,
): MixedChoice | undefined {
  if (o.targetBits === undefined && o.sizeBudget === undefined) return undefined;
  checkTargetBits(o);
  if (candidates.length === 0) return undefined;
  let budget: BitsBudget;
  let fixed = 0;
  let budgetBytes = 0;
  if (o.sizeBudget !== undefined) {
    budgetBytes = parseByteSize(o.sizeBudget);
    const smallest = encodeModel(sizeAt()).byteLength;
    const lowest = candidates.reduce((s, c) => s + c.levels[0]!.bytes, 0);
    fixed = smallest - lowest;
    if (budgetBytes < smallest) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `sizeBudget ${o.sizeBudget} is below the smallest model bits ${o.bits} block ${o.blockSize} writes (${formatValue(smallest, 'bytes')}): raise it, lower bits or use a larger blockSize`,
        { option: 'sizeBudget' },
      );
    }
    // Protobuf length prefixes and names grow by a few bytes with a tensor's size: 32 per weight covers them.
    budget = { kind: 'bytes', bytes: budgetBytes - fixed - 32 * candidates.length };
  } else budget = { kind: 'bits', average: o.targetBits! };
  const a = allocateBits(candidates, budget);
  const high = candidates.filter((c) => a.bits.get(c.key) !== c.levels[0]!.bits).length;
  const elements = candidates.reduce((s, c) => s + c.elements, 0);
  const withScales = (a.bytes * 8) / elements;
  const asked = o.sizeBudget !== undefined ? `sizeBudget ${o.sizeBudget}` : `targetBits ${o.targetBits}`;
  const shown = a.upgraded.slice(0, 5).join(', ') + (a.upgraded.length > 5 ? ` (+${a.upgraded.length - 5} more)` : '');
  const notes = [
    `mixed precision (${asked}): ${high} of ${candidates.length} weight(s) raised above ${o.bits} bits` +
      `${high ? `, most valuable first: ${shown}` : ''}; ` +
      `${a.averageBits.toFixed(2)} stored code bits per weight on average (${withScales.toFixed(2)} with scales and zero points)` +
      (o.sizeBudget !== undefined ? `, ${formatValue(fixed + a.bytes, 'bytes')} of ${formatValue(budgetBytes, 'bytes')} planned` : ''),
    `mixed precision: each weight's error ${weighedBy}, summed ${a.errorBefore.toPrecision(3)} at ${o.bits} bits -> ${a.errorAfter.toPrecision(3)}`,
  ];
  return { bits: a.bits, allocation: a, notes };
}

/** The written model against its budget: planned sizes are exact unless q4f16 kept other tensors float32 than planned. */
export function checkSizeBudget(model: onnx.IModelProto, sizeBudget: string): void {
  const size = encodeModel(model).byteLength;
  const budget = parseByteSize(sizeBudget);
  if (size > budget) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `the mixed-precision model is ${formatValue(size, 'bytes')}, over sizeBudget ${sizeBudget} (float32 tensors kept past float16's range are not planned for): lower the budget by the difference`,
      { option: 'sizeBudget' },
    );
  }
}

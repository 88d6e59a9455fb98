import { ShrinkError } from '@shrink/core';

/**
 * What `--student` names. Layer sizes are the short form people write on whiteboards: `784-64-10` is an
 * MLP from 784 inputs through 64 hidden units to 10 outputs; `c16-c32-64-10` is 3x3 convolutions with 16
 * then 32 filters (each followed by 2x2 max pooling), then a dense layer of 64 and 10 outputs.
 */
export type StudentSpec =
  | { kind: 'mlp'; input: number; hidden: number[]; outputs: number }
  | { kind: 'conv'; filters: number[]; hidden: number[]; outputs: number }
  | { kind: 'name'; name: string };

const positive = (tok: string, spec: string): number => {
  const n = Number(tok);
  if (!Number.isInteger(n) || n < 1 || n > 1 << 20) {
    throw new ShrinkError('INVALID_ARGUMENT', `"${spec}": "${tok}" is not a layer size (a positive integer up to ${1 << 20})`, {
      option: 'student',
    });
  }
  return n;
};

/**
 * Parses layer-size specs; anything else is returned as a name (a preset or a model path) for the
 * caller to resolve, since only it can look at presets and files.
 */
export function parseStudentSpec(spec: string): StudentSpec {
  const s = spec.trim();
  if (/^\d+(-\d+)+$/.test(s)) {
    const sizes = s.split('-').map((t) => positive(t, spec));
    return { kind: 'mlp', input: sizes[0]!, hidden: sizes.slice(1, -1), outputs: sizes.at(-1)! };
  }
  if (/^c\d+(-c\d+)*(-\d+)+$/i.test(s)) {
    const toks = s.split('-');
    const filters = toks.filter((t) => /^c/i.test(t)).map((t) => positive(t.slice(1), spec));
    const dense = toks.filter((t) => !/^c/i.test(t)).map((t) => positive(t, spec));
    return { kind: 'conv', filters, hidden: dense.slice(0, -1), outputs: dense.at(-1)! };
  }
  if (/^[\dc-]+$/i.test(s)) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `"${spec}" is not a layer spec; write sizes like 784-64-10 (MLP: inputs-hidden-outputs) or c16-c32-64-10 (conv filters, then dense sizes and outputs)`,
      { option: 'student' },
    );
  }
  return { kind: 'name', name: s };
}

/** The spec written back in its short form (for reports). */
export function formatStudentSpec(spec: StudentSpec): string {
  switch (spec.kind) {
    case 'mlp':
      return [spec.input, ...spec.hidden, spec.outputs].join('-');
    case 'conv':
      return [...spec.filters.map((f) => `c${f}`), ...spec.hidden, spec.outputs].join('-');
    case 'name':
      return spec.name;
  }
}

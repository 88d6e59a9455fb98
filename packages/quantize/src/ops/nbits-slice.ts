/**
 * Slice of rows of a constant float table (axis 0, step 1: GPT-2's learned positions wpe[p : p + t])
 * -> com.microsoft GatherBlockQuantized over the rows start..end, computed from the Slice's own starts and
 * ends as Slice would clamp them. The table is planned as a lookup (nbits-gather.ts): one packed copy,
 * read a few rows at a time, so a decode step dequantizes only the rows it uses.
 */
import { planWeight } from './nbits-matmul.js';
import { skip, type NBitsOp } from './nbits-types.js';

export const planSliceNBits: NBitsOp = (node, { graph, blockSize }) => {
  const [table, starts, ends, axes, steps] = node.input;
  if (!table || !starts || !ends) return skip('Slice needs data, starts and ends');
  // Slices of computed values and of small constants (shape vectors) are everywhere; only a float table is a candidate.
  const value = graph.constantValue(table);
  if (!value || value.dims.length !== 2 || (value.dtype !== 'float32' && value.dtype !== 'float16')) {
    return skip(`data '${table}' is not a constant 2-D float table`);
  }
  const single = (name: string): bigint | undefined => {
    const v = graph.constantValue(name);
    return v && v.data.length === 1 ? BigInt(v.data[0] as number | bigint) : undefined;
  };
  if (axes) {
    const a = single(axes);
    if (a !== 0n && a !== -2n) return skip(`Slice axes '${axes}' is not the constant [0]: GatherBlockQuantized looks up rows`);
  } else {
    // Without axes, starts holds one value per leading axis: one value slices rows only.
    const dims = graph.shapeOf(starts);
    const known = graph.constantValue(starts)?.data.length ?? (dims?.length === 1 ? dims[0] : undefined);
    if (known !== 1) return skip(`Slice starts '${starts}' is not known to hold one value (rows only)`);
  }
  if (steps && single(steps) !== 1n)
    return skip(`Slice steps '${steps}' is not the constant [1]: GatherBlockQuantized takes rows in order`);
  // Range (11) and Min/Max of int64 (12) compute the rows.
  if ((graph.opsetVersion('') ?? 0) < 12) return skip('Slice of a table: the row range needs opset 12 or later (Min/Max of int64)');
  const weight = planWeight(graph, table, true, 1);
  if (typeof weight === 'string') return skip(weight.replace(/MatMulNBits takes a 2-D weight/, 'GatherBlockQuantized takes a 2-D table'));
  if (blockSize !== undefined && weight.K % blockSize !== 0) {
    return skip(`table '${table}' rows hold ${weight.K} values, not a multiple of block size ${blockSize}`);
  }
  return { kind: 'plan', plan: { input: '', weight, output: node.output[0]!, lookup: true, rows: { starts, ends } } };
};

/**
 * The ops cleanup computes from constants (default domain only), by family. An op that is not here is
 * never folded, and a node of it whose inputs are all constants is counted in the report.
 */
import { ARITH_OPS } from './fold-arith.js';
import { CAST_OPS } from './fold-cast.js';
import { MOVEMENT_OPS } from './fold-movement.js';
import { RESHAPE_OPS } from './fold-reshape.js';
import { SHAPE_OPS } from './fold-shape.js';
import { SLICE_OPS } from './fold-slice.js';
import type { FoldOp } from './fold-types.js';

export const FOLD_OPS: ReadonlyMap<string, FoldOp> = new Map([
  ...RESHAPE_OPS,
  ...MOVEMENT_OPS,
  ...SHAPE_OPS,
  ...SLICE_OPS,
  ...CAST_OPS,
  ...ARITH_OPS,
]);

/**
 * Where a lookup (a Gather, or a row Slice, of a float table) gets its packed table, and its placement,
 * written once for the in-memory placer (nbits-place.ts) and the streamed planner (stream/plan-streamed.ts)
 * so both decide alike and give byte-identical files: a tied head's blocks under the same key when
 * GatherBlockQuantized can read them (integer or no zero points), else a second copy of the lookup's own,
 * rounded to nearest (HQQ's float zero points are not an input GatherBlockQuantized has; GPTQ weighs
 * errors by activations a lookup does not have). Both paths place lookups after every MatMul/Gemm, so a
 * tied head is stored first. The paths differ in how they store a table (values now, or placeholders the
 * writer fills) and in what they call it; `table` and `writeOwn` say that.
 */
import type { Graph, onnx } from '@shrink/core';
import { lookupRows, placeLookupNode, sliceRowIndices } from './lookup-nodes.js';
import type { NodeOutcome } from './types.js';

type Weights = NonNullable<NodeOutcome['weights']>;

/** The weight a lookup's table is planned as: E^T [K = D, N = V], under the key a tied head uses. */
export interface LookupWeight {
  readonly key: string;
  /** The table's name, listed when it is stored twice. */
  readonly source: string;
  readonly K: number;
  readonly N: number;
}

/** What a lookup reads of a stored table. */
export interface LookupTable {
  /** The packed codes: [N, n_blocks, blob] as a head stored them, or [N, K * bits / 8] when only lookups read them. */
  readonly b: string;
  readonly scales: string;
  readonly zeroPoints?: string;
  /** HQQ's float zero points: MatMulNBits takes them, GatherBlockQuantized does not. */
  readonly floatZeroPoints: boolean;
}

export interface LookupPlacerOptions<W extends LookupWeight, S extends { readonly weights: Weights }> {
  /** The tables stored so far, by key (the heads' among them). */
  readonly stored: ReadonlyMap<string, S>;
  /** A stored table as a lookup reads it. */
  readonly table: (s: S) => LookupTable;
  /** Stores the lookup's own table under `key` in `stored`, rounded to nearest, its codes in the lookup's 2-D shape. */
  readonly writeOwn: (w: W, key: string) => S;
  /** The chosen algorithm is not round to nearest, so a lookup's own table counts as rounded. */
  readonly rounds: boolean;
  readonly blockSize: number;
  /** Stored bits of the weight's codes. */
  readonly bits: (w: W) => number;
  /** The scales' type, which the lookup computes in. */
  readonly floatType: (w: W) => 'float32' | 'float16';
}

export interface LookupPlacer<W> {
  /**
   * Replaces `node` with GatherBlockQuantized over `w`'s table, reading `indices`, or for a row Slice the
   * rows `rows` bounds. Returns the nodes written and the table's weights, for the report.
   */
  place(
    node: onnx.NodeProto,
    w: W,
    indices: string,
    rows?: { readonly starts: string; readonly ends: string },
  ): { replacedBy: string[]; weights: Weights };
  /** Lookup tables rounded to nearest although the algorithm is not rtn. */
  readonly lookupsRounded: number;
  /** Tables stored twice: a head's blocks with float zero points, and the lookup's own. */
  readonly lookupCopies: readonly string[];
}

export function lookupPlacer<W extends LookupWeight, S extends { readonly weights: Weights }>(
  graph: Graph,
  o: LookupPlacerOptions<W, S>,
): LookupPlacer<W> {
  let lookupsRounded = 0;
  const lookupCopies: string[] = [];
  /** The uint8 [N, K * bits / 8] a GatherBlockQuantized reads, by table: its own codes, or a Reshape of a head's. */
  const data = new Map<S, string>();

  const storeLookup = (w: W): S => {
    const hit = o.stored.get(w.key);
    if (hit && !o.table(hit).floatZeroPoints) return hit;
    const key = hit ? `${w.key}|lookup` : w.key;
    const again = o.stored.get(key);
    if (again) return again;
    if (o.rounds) lookupsRounded++;
    if (hit) lookupCopies.push(w.source);
    const s = o.writeOwn(w, key);
    data.set(s, o.table(s).b);
    return s;
  };

  return {
    get lookupsRounded() {
      return lookupsRounded;
    },
    lookupCopies,
    place(node, w, indices, rows) {
      const s = storeLookup(w);
      const t = o.table(s);
      const bits = o.bits(w);
      const known = data.get(s);
      const rowsData = known ?? lookupRows(graph, t.b, w.N, w.K, bits, node);
      data.set(s, rowsData);
      const range = rows ? sliceRowIndices(graph, node, rows, w.N) : undefined;
      const q = placeLookupNode(
        graph,
        node,
        {
          data: rowsData,
          indices: range ? range.indices : indices,
          scales: t.scales,
          ...(t.zeroPoints ? { zeroPoints: t.zeroPoints } : {}),
          blockSize: o.blockSize,
          bits,
          floatType: o.floatType(w),
        },
        range?.nodes,
      );
      const reshape = known === undefined ? graph.producer(rowsData) : undefined;
      return {
        replacedBy: [...(reshape ? [reshape.name] : []), ...(range?.nodes ?? []).map((n) => n.name), q.name],
        weights: [...s.weights],
      };
    },
  };
}

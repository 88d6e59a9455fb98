/**
 * The graph side of streamed q4: which MatMul/Gemm nodes of the main graph become MatMulNBits, and which
 * Gathers over a float table become GatherBlockQuantized, with the names, attributes and initializers
 * nbits.ts / nbits-place.ts give them, on a model whose weights are still in their files. The new
 * initializers are placeholders (type and shape, no data) that the writer fills stripe by stripe. Only
 * float32 weights are read this way (an initializer, external or inline, or a Constant); a weight through
 * a Cast or stored as float16 is left float with its reason.
 *
 * Lookups follow ops/nbits-gather.ts (and row Slices of learned positions, ops/nbits-slice.ts): the table E [V, D] is the weight E^T [K = D, N = V] under the key a
 * tied head (MatMul over Transpose(E), Gemm transB=1 on E) uses, so one packed table serves both; its
 * stripes are whole rows of E, contiguous in the file. Lookups are placed after every MatMul/Gemm as the
 * in-memory pass places them, so names come out the same; the lookup's nodes (its Reshape, a row Slice's
 * indices, GatherBlockQuantized) come from lookup-nodes.ts, as the in-memory placer's do.
 */
import {
  attrFloat,
  attrInt,
  countUnhandled,
  dtypeFromOnnx,
  Graph,
  isDefaultDomain,
  onnx,
  selectNodes,
  tensorDims,
  tensorNumel,
  toFloat32,
} from '@shrink/core';
import { matMulNBitsNode, placeBias } from '../nbits-place.js';
import { isLookup, MS_DOMAIN } from '../lookup-nodes.js';
import { lookupPlacer } from '../lookup-placer.js';
import { rowSlice } from '../ops/nbits-slice.js';
import { asTable, gatherRows } from '../ops/nbits-gather.js';
import { transposedTable } from '../ops/nbits-matmul.js';
import { nodeOutcome } from '../node-outcome.js';
import { storedBits, zeroPointBytes, type GridBits } from '../ops/nbits-blocks.js';
import { lookupAlgo, WEIGHT_QUANTIZERS } from '../ops/weight-quantizers.js';
import type { ResolvedQuantizeOptions } from '../options.js';
import type { NodeOutcome } from '../types.js';
import type { StripeJob, StripeSource } from './stripe-job.js';

/** One weight to write as MatMulNBits blocks, stored once however many nodes read it. */
export interface StreamedWeight {
  /** The stripe job of the whole weight; the writer cuts it into column ranges. */
  readonly job: Omit<StripeJob, 'n0' | 'n1'>;
  readonly b: string;
  readonly scales: string;
  readonly zeroPoints?: string;
  readonly nBlocks: number;
  readonly blobSize: number;
  /** Zero points as the algorithm writes them: packed uint8 codes, float32 [N, nBlocks], or none. */
  readonly zeroPointKind: 'uint8' | 'float32' | 'none';
  /** Bytes of one column's zero points. */
  readonly zeroPointColumnBytes: number;
  /** Only a GatherBlockQuantized reads the codes: stored [N, K * bits / 8] (the same bytes). */
  readonly lookupOnly: boolean;
}

export interface StreamedPlan {
  /** The rewritten model: MatMulNBits nodes, placeholder initializers, the replaced weights gone. */
  readonly model: onnx.ModelProto;
  readonly weights: readonly StreamedWeight[];
  readonly nodes: NodeOutcome[];
  readonly unhandled: Record<string, number>;
  /** Lookup tables rounded to nearest although the algorithm is hqq (GatherBlockQuantized takes no float zero points). */
  readonly lookupsRounded: number;
  /** Tables stored twice: a tied head's hqq blocks and the lookup's own rtn blocks. */
  readonly lookupCopies: readonly string[];
}

export type StreamedOptions = Pick<ResolvedQuantizeOptions, 'blockSize' | 'symmetric' | 'accuracyLevel' | 'include' | 'exclude'> & {
  bits: GridBits;
  algo: Exclude<ResolvedQuantizeOptions['algo'], 'gptq'>;
};

/** What the planner may ask of the model's files. */
export interface StreamedSources {
  /** Where a main-graph initializer's bytes are, when it is external. */
  external(name: string): { file: string; offset: number; length: number } | undefined;
  /** A small external float32 tensor's values (a bias). */
  readFloats(name: string): Float32Array;
}

const HANDLED = new Set(['MatMul', 'Gemm', 'Gather', 'Slice']);

type Skip = { skip: string };
interface WeightSpec {
  key: string;
  source: string;
  K: number;
  N: number;
  layout: 'KN' | 'NK';
  alpha: number;
  bytes: StripeSource;
}
interface Stored {
  weight: StreamedWeight;
  weights: NonNullable<NodeOutcome['weights']>;
}
interface FloatConst {
  dims: number[];
  values(): Float32Array;
}

export function planStreamed(model: onnx.IModelProto, options: StreamedOptions, sources: StreamedSources): StreamedPlan {
  const graph = Graph.from(model);
  const selector = selectNodes(graph, options);
  const unhandled = countUnhandled(graph, HANDLED);
  const bits = storedBits(options.bits);
  const stored = new Map<string, Stored>();
  const weights: StreamedWeight[] = [];
  const nodes: NodeOutcome[] = [];

  /** The float32 constant `name` (an initializer, external or not, or a Constant), or why not. */
  const floatConst = (name: string, what: string): FloatConst | string => {
    let source = name;
    for (let p = graph.producer(source); p && p.opType === 'Identity' && isDefaultDomain(p) && p.input[0]; p = graph.producer(source)) {
      source = p.input[0];
    }
    const cast = graph.producer(name);
    if (cast && cast.opType === 'Cast' && isDefaultDomain(cast)) {
      return `${what} '${name}' is read through a Cast; the streamed path reads float32 weights as they are stored`;
    }
    if (graph.isGraphInput(source)) return `${what} '${source}' is a graph input (it can change at run time)`;
    const t = graph.initializer(source);
    if (t) {
      const dtype = dtypeFromOnnx(t.dataType ?? 0);
      if (dtype !== 'float32') return `${what} '${source}' is ${dtype}; the streamed path quantizes float32 weights`;
      const ext = sources.external(source);
      return {
        dims: tensorDims(t),
        values: () => (ext ? sources.readFloats(source) : toFloat32(graph.readInitializer(source))),
      };
    }
    const v = graph.constantValue(name);
    if (!v) return `${what} '${name}' is computed at run time, not a constant weight`;
    if (v.dtype !== 'float32') return `${what} '${name}' is ${v.dtype}; the streamed path quantizes float32 weights`;
    return { dims: [...v.dims], values: () => toFloat32(v) };
  };

  /** Where B's bytes are and how the node reads them. */
  const weightSpec = (bName: string, transB: boolean, alpha: number): WeightSpec | string => {
    const c = floatConst(bName, 'weight');
    if (typeof c === 'string') return `${c}; only constant weights are quantized`;
    if (c.dims.length !== 2) return `weight '${bName}' has rank ${c.dims.length}; MatMulNBits takes a 2-D weight`;
    const [r, cols] = c.dims as [number, number];
    const [K, N] = transB ? [cols, r] : [r, cols];
    let source = bName;
    for (let p = graph.producer(source); p && p.opType === 'Identity' && isDefaultDomain(p) && p.input[0]; p = graph.producer(source)) {
      source = p.input[0];
    }
    const ext = graph.initializer(source) ? sources.external(source) : undefined;
    const bytes: StripeSource = ext ? { file: ext.file, offset: ext.offset } : { bytes: rawBytes(c.values()) };
    return { key: `${bName}|${transB ? 1 : 0}|${alpha}`, source: bName, K, N, layout: transB ? 'NK' : 'KN', alpha, bytes };
  };

  /**
   * The weight's initializers under `key`, by `algo`: named and shaped as nbits-place.ts names and shapes
   * them (a lookup-only table's codes 2-D, [N, K * bits / 8]).
   */
  const write = (w: WeightSpec, key: string, algo: StreamedOptions['algo'], lookupOnly: boolean): Stored => {
    const zeroPointKind = probeZeroPoints({ ...options, algo });
    const nBlocks = Math.ceil(w.K / options.blockSize);
    const blobSize = (options.blockSize * bits) / 8;
    const zpBytes = zeroPointBytes(nBlocks, bits);
    const base = w.source.replace(/[^A-Za-z0-9_.:/-]/g, '_');
    const b = graph.uniqueName(`${base}_Q${bits}`);
    const scales = graph.uniqueName(`${base}_scales`);
    graph.setInitializer(placeholder(b, 'uint8', lookupOnly ? [w.N, (w.K * bits) / 8] : [w.N, nBlocks, blobSize]));
    graph.setInitializer(placeholder(scales, 'float32', [w.N, nBlocks]));
    const rows: NonNullable<NodeOutcome['weights']> = [
      {
        name: b,
        dtype: `uint8 (${bits}-bit codes${options.bits !== bits ? ` of a ${options.bits}-bit grid` : ''})`,
        elements: w.K * w.N,
        bytes: w.N * nBlocks * blobSize,
      },
      { name: scales, dtype: 'float32', elements: w.N * nBlocks, bytes: w.N * nBlocks * 4 },
    ];
    let zeroPoints: string | undefined;
    if (zeroPointKind === 'float32') {
      zeroPoints = graph.uniqueName(`${base}_zero_points`);
      graph.setInitializer(placeholder(zeroPoints, 'float32', [w.N, nBlocks]));
      rows.push({ name: zeroPoints, dtype: 'float32', elements: w.N * nBlocks, bytes: w.N * nBlocks * 4 });
    } else if (zeroPointKind === 'uint8') {
      zeroPoints = graph.uniqueName(`${base}_zero_points`);
      graph.setInitializer(placeholder(zeroPoints, 'uint8', [w.N, zpBytes]));
      rows.push({ name: zeroPoints, dtype: `uint8 (${bits}-bit zero points)`, elements: w.N * nBlocks, bytes: w.N * zpBytes });
    }
    const job = {
      source: w.bytes,
      layout: w.layout,
      K: w.K,
      N: w.N,
      alpha: w.alpha,
      algo,
      bits: options.bits,
      blockSize: options.blockSize,
      symmetric: options.symmetric,
      name: w.source,
    };
    const weight: StreamedWeight = {
      job,
      b,
      scales,
      ...(zeroPoints ? { zeroPoints } : {}),
      nBlocks,
      blobSize,
      zeroPointKind,
      zeroPointColumnBytes: zeroPointKind === 'float32' ? nBlocks * 4 : zeroPointKind === 'uint8' ? zpBytes : 0,
      lookupOnly,
    };
    weights.push(weight);
    const s: Stored = { weight, weights: rows };
    stored.set(key, s);
    return s;
  };

  /** Once per key, by the chosen algorithm. */
  const store = (w: WeightSpec): Stored => stored.get(w.key) ?? write(w, w.key, options.algo, false);

  /** Lookups' tables and nodes, decided as nbits-place.ts decides them (lookup-placer.ts). */
  const lookups = lookupPlacer(graph, {
    stored,
    table: (s: Stored) => ({ ...s.weight, floatZeroPoints: s.weight.zeroPointKind === 'float32' }),
    // Rounded to nearest: hqq's float zero points are not an input GatherBlockQuantized has.
    writeOwn: (w: WeightSpec, key) => write(w, key, lookupAlgo(options.algo), true),
    rounds: lookupAlgo(options.algo) !== options.algo,
    blockSize: options.blockSize,
    bits: () => bits,
    floatType: () => 'float32',
  });

  /** `rows`: a row Slice's bounds, from which its indices are computed (lookup-nodes.ts). */
  const placeLookup = (node: onnx.NodeProto, w: WeightSpec, indices: string, rows?: { starts: string; ends: string }): NodeOutcome =>
    nodeOutcome(node, 'quantized', lookups.place(node, w, indices, rows));

  /** Gather over a constant float32 table (axis 0), as ops/nbits-gather.ts plans it, or why not. */
  const planGather = (node: onnx.NodeProto): Skip | { indices: string; w: WeightSpec } => {
    const g = gatherRows(node);
    if (typeof g === 'string') return { skip: g };
    const w = asTable(g.table, weightSpec(g.table, true, 1), options.blockSize);
    return typeof w === 'string' ? { skip: w } : { indices: g.indices, w };
  };

  /** A row Slice of a constant float32 table (ops/nbits-slice.ts), or why not. */
  const planSlice = (node: onnx.NodeProto): Skip | { w: WeightSpec; rows: { starts: string; ends: string } } => {
    const r = rowSlice(node, graph, (name) => {
      const c = floatConst(name, 'data');
      return typeof c === 'string' ? undefined : { dims: c.dims, float: true };
    });
    if (typeof r === 'string') return { skip: r };
    const w = asTable(r.table, weightSpec(r.table, true, 1), options.blockSize);
    if (typeof w === 'string') return { skip: w };
    return { w, rows: { starts: r.starts, ends: r.ends } };
  };

  const planNode = (
    node: onnx.NodeProto,
  ): Skip | { a: string; w: WeightSpec; bias?: { value: string } | { base: string; data: Float32Array } } => {
    if (node.opType === 'MatMul') {
      const [a, bName] = node.input;
      if (!a || !bName) return { skip: 'MatMul needs two inputs' };
      const aShape = graph.shapeOf(a);
      if (aShape && aShape.length < 2) return { skip: `input '${a}' has rank ${aShape.length}; MatMulNBits needs A of rank >= 2` };
      // A tied head reads the table through Transpose (perm [1, 0]): folded into the key, as nbits-matmul.ts does.
      const source = transposedConstant(bName);
      const w = source ? weightSpec(source, true, 1) : weightSpec(bName, false, 1);
      return typeof w === 'string' ? { skip: w } : { a, w };
    }
    const [a, bName, c] = node.input;
    if (!a || !bName) return { skip: 'Gemm needs inputs A and B' };
    if (attrInt(node, 'transA', 0) !== 0) return { skip: 'transA=1 has no MatMulNBits form' };
    const alpha = attrFloat(node, 'alpha', 1);
    const beta = attrFloat(node, 'beta', 1);
    const transB = attrInt(node, 'transB', 0) !== 0;
    let biasValue: { value: FloatConst; cells: number } | undefined;
    const bDims = graph.shapeOf(bName);
    if (c && beta !== 0) {
      const cv = floatConst(c, 'bias');
      if (typeof cv === 'string') return { skip: `${cv}; MatMulNBits takes a constant bias of N values` };
      const n = bDims?.length === 2 ? Number(bDims[transB ? 0 : 1]) : -1;
      const cells = tensorNumel(cv.dims);
      const rowVector = cv.dims.every((d, i) => i === cv.dims.length - 1 || d === 1);
      if (!rowVector || (cells !== n && cells !== 1)) {
        return { skip: `bias '${c}' has shape [${cv.dims.join(', ')}]; MatMulNBits takes a bias of N=${n} values` };
      }
      biasValue = { value: cv, cells };
    }
    const w = weightSpec(bName, transB, alpha);
    if (typeof w === 'string') return { skip: w };
    if (!biasValue || !c) return { a, w };
    const { value, cells } = biasValue;
    // A float32 bias of N values is read as it is (nbits-matmul.ts: float32 is the scales' type here).
    if (beta === 1 && cells === w.N && value.dims.length === 1) return { a, w, bias: { value: c } };
    const v = value.values();
    return { a, w, bias: { base: `${c}_bias`, data: new Float32Array(w.N).map((_, i) => beta * v[cells === 1 ? 0 : i]!) } };
  };

  /** The constant 2-D float32 table `name` transposes (Transpose, perm [1, 0] or none), else undefined. */
  const transposedConstant = (name: string): string | undefined =>
    transposedTable(graph, name, (source) => {
      const c = floatConst(source, 'weight');
      return typeof c !== 'string' && c.dims.length === 2;
    });

  // Lookups last: a table a head also reads is then stored in the head's form and the lookup shares it.
  const order = [...graph.nodes].sort((x, y) => Number(isLookup(x.opType)) - Number(isLookup(y.opType)));
  for (const node of order) {
    if (!isDefaultDomain(node) || !HANDLED.has(node.opType)) continue;
    const sel = selector.isSelected(node);
    if (!sel.ok) {
      nodes.push(nodeOutcome(node, 'skipped', { reason: sel.reason }));
      continue;
    }
    if (node.opType === 'Slice') {
      const g = planSlice(node);
      nodes.push('skip' in g ? nodeOutcome(node, 'skipped', { reason: g.skip }) : placeLookup(node, g.w, '', g.rows));
      continue;
    }
    if (isLookup(node.opType)) {
      const g = planGather(node);
      nodes.push('skip' in g ? nodeOutcome(node, 'skipped', { reason: g.skip }) : placeLookup(node, g.w, g.indices));
      continue;
    }
    const d = planNode(node);
    if ('skip' in d) {
      nodes.push(nodeOutcome(node, 'skipped', { reason: d.skip }));
      continue;
    }
    const s = store(d.w);
    const rows = [...s.weights];
    const bias = d.bias ? placeBias(graph, d.bias, d.w.N, 'float32', rows) : undefined;
    const q = matMulNBitsNode(graph, node, {
      input: d.a,
      output: node.output[0]!,
      b: s.weight.b,
      scales: s.weight.scales,
      ...(s.weight.zeroPoints ? { zeroPoints: s.weight.zeroPoints } : {}),
      ...(bias ? { bias } : {}),
      K: d.w.K,
      N: d.w.N,
      bits,
      options,
    });
    graph.replaceNode(node, q);
    nodes.push(nodeOutcome(node, 'quantized', { replacedBy: [q.name], weights: rows }));
  }
  if (nodes.some((n) => n.action === 'quantized')) {
    if (graph.opsetVersion(MS_DOMAIN) === undefined) graph.setOpset(MS_DOMAIN, 1);
    graph.removeDeadNodes();
  }
  const { lookupsRounded, lookupCopies } = lookups;
  return { model: graph.toModel(), weights, nodes, unhandled, lookupsRounded, lookupCopies };
}

/** A tensor with type and shape and no data yet. */
function placeholder(name: string, dtype: 'uint8' | 'float32', dims: readonly number[]): onnx.TensorProto {
  return onnx.TensorProto.create({
    name,
    dataType: dtype === 'uint8' ? onnx.TensorProto.DataType.UINT8 : onnx.TensorProto.DataType.FLOAT,
    dims: [...dims],
  });
}

function rawBytes(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Which zero points the algorithm writes at these options, asked of the quantizer itself on one value. */
function probeZeroPoints(options: StreamedOptions): StreamedWeight['zeroPointKind'] {
  const q = WEIGHT_QUANTIZERS[options.algo](new Float32Array([0.5]), 1, 1, {
    bits: options.bits,
    blockSize: options.blockSize,
    symmetric: options.symmetric,
  });
  return q.zeroPoints instanceof Float32Array ? 'float32' : q.zeroPoints ? 'uint8' : 'none';
}

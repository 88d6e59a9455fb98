/**
 * How far each changed node's output drifts from the baseline's, on real data: `--explain`, and what the
 * accuracy fallback ranks nodes by. Passes keep the output value names of the nodes they replace
 * (quantized replacements, pruned weights), so the same names can be read from both models and
 * compared value by value.
 */
import type * as ort from 'onnxruntime-node';
import type { Ctx } from '../context.js';
import type { Dataset } from '../data/dataset.js';
import { ShrinkError } from '../errors.js';
import { elemTypes } from '../onnx/elem-types.js';
import { findNode } from '../onnx/find-node.js';
import { Graph } from '../onnx/graph.js';
import { nodeLabel } from '../onnx/node-label.js';
import { onnx } from '../onnx/proto.js';
import { float32ToFloat16 } from '../onnx/tensor.js';
import { feedsFor, planInput } from './feeds.js';
import { exposeIntermediates } from './intermediates.js';
import { createSession, type Feeds, type Session, type SessionOptions } from './session.js';
import { tensorToFloat32 } from './tensors.js';

export interface LayerError {
  /** Node name as the report gives it. */
  node: string;
  opType: string;
  /** The value compared: an output of the node, same name in both models. */
  output: string;
  /** 10 log10(sum x^2 / sum (x - xq)^2) with the whole quantized model running: Infinity when identical, NaN when not comparable. */
  sqnrDb: number;
  /** ||x - xq|| / ||x||. */
  relError: number;
  maxAbsError: number;
  /** SQNR of the node's data inputs (the worst one) in the quantized model: Infinity for graph inputs; absent when not comparable. */
  inputSqnrDb?: number;
  /**
   * SQNR of the node's replacement alone: the quantized nodes computing this output, cut out of the
   * quantized model and fed the float model's inputs, so no upstream error is included. Absent when the
   * replacement could not be cut out (see localNote).
   */
  localSqnrDb?: number;
  localNote?: string;
  comparable: boolean;
  /** Why the row is not comparable. */
  reason?: string;
}

export interface LayerErrorOptions {
  /** Samples compared at most (the first ones of `data`). Default 64. */
  samples?: number;
  /** Samples per onnxruntime run. Default 64 (capped by a fixed batch dim). */
  batch?: number;
  /** Model input the dataset feeds, when the model has several. */
  input?: string;
  session?: SessionOptions;
}

interface Sums {
  signal: number;
  noise: number;
  maxAbs: number;
  problem?: string;
}

const newSums = (): Sums => ({ signal: 0, noise: 0, maxAbs: 0 });

interface Local {
  model: onnx.ModelProto;
  /** Values the cut-out reads from outside: fed with the float model's values. */
  boundary: Array<{ name: string; elemType: number | undefined }>;
  session?: Session;
  sums: Sums;
}

interface Row {
  base: Pick<LayerError, 'node' | 'opType' | 'output'>;
  reason?: string;
  inputs: string[];
  local: Local | string;
}

const T = onnx.TensorProto.DataType;
const ORT_TYPE: ReadonlyMap<number, string> = new Map([
  [T.FLOAT, 'float32'],
  [T.FLOAT16, 'float16'],
  [T.DOUBLE, 'float64'],
  [T.INT32, 'int32'],
  [T.INT64, 'int64'],
]);

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1)
    throw new ShrinkError('INVALID_ARGUMENT', `per-layer error: ${what} must be a positive integer, got ${v}`);
  return v;
}

/** Values written by top-level nodes (what exposeIntermediates can turn into outputs). */
function produced(model: onnx.IModelProto): Set<string> {
  return new Set((model.graph?.node ?? []).flatMap((n) => n.output ?? []).filter((n) => n !== ''));
}

/** Inputs that carry data at run time: not initializers, not Constant outputs, not empty. */
function dataInputs(graph: Graph, node: onnx.NodeProto): string[] {
  return node.input.filter((i) => i !== '' && !graph.isInitializer(i) && graph.producer(i)?.opType !== 'Constant');
}

function sqnr(s: Sums): number {
  if (s.noise === 0) return Infinity;
  return 10 * Math.log10(s.signal / s.noise);
}

/**
 * The nodes of the quantized graph that compute `output` from the float node's data inputs: walked back
 * from `output`, stopping at those inputs, graph inputs and constants. As a model of its own it shows
 * the replacement's error alone when fed the float model's values of the inputs.
 */
function cutOut(
  q: Graph,
  qModel: onnx.IModelProto,
  types: ReadonlyMap<string, number>,
  output: string,
  inputs: ReadonlySet<string>,
): Local | string {
  const nodes = new Set<onnx.NodeProto>();
  const boundary = new Set<string>();
  const inits = new Set<string>();
  const stack = [output];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (v === '' || seen.has(v)) continue;
    seen.add(v);
    if (v !== output && (inputs.has(v) || q.isGraphInput(v))) {
      boundary.add(v);
      continue;
    }
    if (q.isInitializer(v)) {
      inits.add(v);
      continue;
    }
    const p = q.producer(v);
    if (!p) return `'${v}' has no producer in the quantized model`;
    if (p.attribute.some((a) => a.g || (a.graphs?.length ?? 0) > 0)) return `'${nodeLabel(p)}' holds a subgraph`;
    nodes.add(p);
    stack.push(...p.input);
  }
  const list = [...boundary].map((name) => ({ name, elemType: types.get(name) }));
  const valueInfo = (name: string, et: number | undefined) =>
    onnx.ValueInfoProto.create(et === undefined ? { name } : { name, type: { tensorType: { elemType: et } } });
  const model = onnx.ModelProto.create({
    ...qModel,
    graph: onnx.GraphProto.create({
      name: `explain_${output}`,
      node: q.nodes.filter((n) => nodes.has(n)),
      input: list.map((b) => valueInfo(b.name, b.elemType)),
      output: [valueInfo(output, types.get(output))],
      initializer: [...inits].map((n) => q.initializer(n)!),
    }),
  });
  return { model, boundary: list, sums: newSums() };
}

/**
 * Per-layer error of a candidate (e.g. quantized) model against its float original, worst first (lowest
 * sqnrDb), for the `changed` nodes (as the pass's report labels them). Both whole models run on the first
 * `samples` samples of `data`, with every changed node's output (and its data inputs) exposed, and each
 * output is compared by name.
 *
 * Like a per-layer trace, sqnrDb includes the error of everything upstream of a node (the whole
 * quantized model runs, so the node reads already-quantized inputs): a node late in the graph can look
 * bad because of an earlier one. `inputSqnrDb` says how much error arrived at the node's inputs, and
 * `localSqnrDb` measures the node's replacement alone on the float inputs — the number to act on when
 * choosing what to keep float.
 *
 * Nodes whose output is missing from either model (e.g. folded into a neighbour) are listed last as not
 * comparable, with the reason.
 */
export async function layerErrors(
  float: onnx.IModelProto,
  quantized: onnx.IModelProto,
  changed: ReadonlyArray<{ name: string; opType: string }>,
  data: Dataset,
  opts: LayerErrorOptions = {},
  ctx?: Ctx,
): Promise<LayerError[]> {
  const limit = positiveInt(opts.samples ?? 64, 'samples');
  const batch = positiveInt(opts.batch ?? 64, 'batch');
  if (data.n === 0) throw new ShrinkError('INVALID_DATA', `per-layer error: dataset '${data.name}' has no samples to compare on`);
  const fg = Graph.from(float);
  const qg = Graph.from(quantized);
  const qTypes = elemTypes(quantized.graph!);
  const inFloat = produced(float);
  const inQuant = produced(quantized);

  const rows: Row[] = [];
  for (const outcome of changed) {
    const node = findNode(fg, outcome.name);
    const base = { node: outcome.name, opType: outcome.opType };
    if (!node) {
      const reason = outcome.name === '' ? 'the node has no name to find it by' : `no node '${outcome.name}' in the float model`;
      rows.push({ base: { ...base, output: '' }, reason, inputs: [], local: reason });
      continue;
    }
    const inputs = dataInputs(fg, node);
    for (const output of node.output.filter((o) => o !== '')) {
      const missing = !inFloat.has(output) ? 'the float model' : !inQuant.has(output) ? 'the quantized model' : undefined;
      if (missing) {
        const reason = `no value '${output}' in ${missing}`;
        rows.push({ base: { ...base, output }, reason, inputs, local: reason });
      } else {
        rows.push({ base: { ...base, output }, inputs, local: cutOut(qg, quantized, qTypes, output, new Set(inputs)) });
      }
    }
  }

  // Graph inputs reach both models unchanged: they are not read back.
  const inner = (v: string) => inFloat.has(v);
  const compared = rows.filter((r) => !r.reason);
  const qNames = [...new Set(compared.flatMap((r) => [r.base.output, ...r.inputs.filter((i) => inner(i) && inQuant.has(i))]))];
  const locals = compared.map((r) => r.local).filter((l): l is Local => typeof l !== 'string');
  const fNames = [...new Set([...qNames, ...locals.flatMap((l) => l.boundary.map((b) => b.name).filter(inner))])];
  const sums = new Map<string, Sums>(qNames.map((n) => [n, newSums()]));
  if (qNames.length > 0) {
    await accumulate(float, quantized, { fNames, qNames }, sums, locals, data, Math.min(limit, data.n), batch, opts, ctx);
  }

  const result: LayerError[] = rows.map((r) => {
    const s = r.reason ? undefined : sums.get(r.base.output)!;
    if (!s || s.problem) {
      return { ...r.base, sqnrDb: NaN, relError: NaN, maxAbsError: NaN, comparable: false, reason: r.reason ?? s!.problem! };
    }
    const read = r.inputs.filter((i) => !fg.isGraphInput(i));
    const known = read.every((i) => sums.has(i) && !sums.get(i)!.problem);
    const inputSqnrDb = known ? Math.min(Infinity, ...read.map((i) => sqnr(sums.get(i)!))) : undefined;
    const local =
      typeof r.local === 'string'
        ? { localNote: r.local }
        : r.local.sums.problem
          ? { localNote: r.local.sums.problem }
          : { localSqnrDb: sqnr(r.local.sums) };
    return {
      ...r.base,
      sqnrDb: sqnr(s),
      relError: s.signal === 0 ? (s.noise === 0 ? 0 : Infinity) : Math.sqrt(s.noise / s.signal),
      maxAbsError: s.maxAbs,
      ...(inputSqnrDb !== undefined ? { inputSqnrDb } : {}),
      ...local,
      comparable: true,
    };
  });
  // Worst first; not comparable last; ties keep report order (sort is stable).
  return result.sort((a, b) => {
    if (a.comparable !== b.comparable) return a.comparable ? -1 : 1;
    if (!a.comparable || a.sqnrDb === b.sqnrDb) return 0;
    return a.sqnrDb < b.sqnrDb ? -1 : 1;
  });
}

/** Adds one batch of reference `x` against `xq` to `s`; rows beyond `count` (fixed-batch padding) are left out. */
function add(s: Sums, name: string, ref: ort.Tensor, test: ort.Tensor, refRows: number, testRows: number, count: number): void {
  if (s.problem) return;
  const real = (t: ort.Tensor, rows: number) => {
    const d = tensorToFloat32(t, `value '${name}'`);
    return rows > count && t.dims[0] === rows ? d.subarray(0, (d.length / rows) * count) : d;
  };
  const x = real(ref, refRows);
  const xq = real(test, testRows);
  if (x.length !== xq.length) {
    s.problem = `'${name}' has dims [${ref.dims.join(', ')}] in the float model but [${test.dims.join(', ')}] in the quantized one`;
    return;
  }
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    // A non-finite reference value has nothing to compare against; a non-finite quantized one is all noise.
    if (!Number.isFinite(v)) continue;
    const w = xq[i]!;
    const a = Number.isFinite(w) ? Math.abs(v - w) : Infinity;
    s.signal += v * v;
    s.noise += a * a;
    if (a > s.maxAbs) s.maxAbs = a;
  }
}

/** The float model's value of `name` as a feed for a cut-out input typed `elemType`, or why it cannot be. */
function feedOf(t: ort.Tensor, elemType: number | undefined): ort.Tensor | { data: Uint16Array; dims: readonly number[] } | string {
  const want = elemType === undefined ? t.type : ORT_TYPE.get(elemType);
  if (want === t.type) return t;
  if (want === 'float16' && t.type === 'float32') return { data: float32ToFloat16(t.data as Float32Array), dims: t.dims };
  return `its input is ${want ?? `type ${elemType}`} in the quantized model but ${t.type} in the float one`;
}

/** Runs both models (and the cut-outs) batch by batch and sums signal and noise energy per value. */
async function accumulate(
  float: onnx.IModelProto,
  quantized: onnx.IModelProto,
  names: { fNames: string[]; qNames: string[] },
  sums: Map<string, Sums>,
  locals: Local[],
  data: Dataset,
  n: number,
  batch: number,
  opts: LayerErrorOptions,
  ctx: Ctx | undefined,
): Promise<void> {
  const sessions: Session[] = [];
  const open = async (m: onnx.IModelProto, label: string) => {
    const s = await createSession(m, { label, ...opts.session }, ctx);
    sessions.push(s);
    return s;
  };
  try {
    const fSession = await open(exposeIntermediates(float, names.fNames), 'float model (explain)');
    const qSession = await open(exposeIntermediates(quantized, names.qNames), 'quantized model (explain)');
    for (const l of locals) {
      try {
        l.session = await open(l.model, `cut-out of '${l.model.graph?.output?.[0]?.name ?? ''}' (explain)`);
      } catch (e) {
        l.sums.problem = `the cut-out does not load: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    const fPlan = planInput(fSession, data, opts.input);
    const qPlan = planInput(qSession, data, opts.input);
    const step = Math.min(batch, fPlan.fixedBatch ?? batch, qPlan.fixedBatch ?? batch);
    for (let start = 0; start < n; start += step) {
      ctx?.signal?.throwIfAborted();
      const count = Math.min(step, n - start);
      const f = feedsFor(fPlan, data, start, count);
      const q = feedsFor(qPlan, data, start, count);
      const fo = await fSession.run(f.feeds, names.fNames);
      const qo = await qSession.run(q.feeds, names.qNames);
      for (const name of names.qNames) add(sums.get(name)!, name, fo[name]!, qo[name]!, f.rows, q.rows, count);
      for (const l of locals) {
        if (!l.session || l.sums.problem) continue;
        const feeds: Record<string, Feeds[string]> = {};
        for (const b of l.boundary) {
          // Graph inputs get what the quantized model was fed; inner values come from the float run.
          const value = fo[b.name];
          const feed = value ? feedOf(value, b.elemType) : (q.feeds[b.name] ?? `no float value for '${b.name}'`);
          if (typeof feed === 'string') {
            l.sums.problem = feed;
            break;
          }
          feeds[b.name] = feed;
        }
        if (l.sums.problem) continue;
        const output = l.session.outputNames[0]!;
        const lo = await l.session.run(feeds, [output]);
        add(l.sums, output, fo[output]!, lo[output]!, f.rows, f.rows, count);
      }
    }
  } finally {
    for (const s of sessions) await s.release();
  }
}

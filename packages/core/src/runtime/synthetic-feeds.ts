/**
 * Synthetic inputs for any model, each input filled by what it most likely means: token ids within the
 * vocabulary of the table they index, attention masks of ones, token types of zeros, positions counting
 * up, recurrent state of zeros, an integer that the graph compares with a constant (a sample rate) set to
 * that constant, and seeded uniform [0, 1) values for the rest. Every guess is written down, so a report
 * can say what its fidelity was measured on.
 */
import { ShrinkError } from '../errors.js';
import { createRng, type Rng } from '../data/rng.js';
import type { onnx } from '../onnx/proto.js';
import { subgraphsOf } from '../onnx/graph.js';
import { constantTensor } from '../onnx/constant-tensor.js';
import { readTensor, tensorDims, tensorNumel, float32ToFloat16 } from '../onnx/tensor.js';
import { chooseInputDims, describeAssumed, type DimDefaults } from '../onnx/input-dims.js';
import type { Feeds, FeedTensor, Session, TypedArray, ValueMeta } from './session.js';

export interface FeedSet {
  /** What the samples are, for reports ("8 synthetic samples at sequence_length=16; input_ids: token ids < 512 …"). */
  readonly name: string;
  /** One complete feeds record per run. */
  readonly samples: readonly Feeds[];
  readonly synthetic: boolean;
}

export interface SyntheticOptions extends DimDefaults {
  /** Samples to make (8). */
  readonly count?: number;
  readonly seed?: number;
  /** Inputs given by the user (`--input NAME=VALUE`): used as they are, and their dims fix their symbols. */
  readonly given?: Readonly<Record<string, FeedTensor>>;
}

type Role =
  | { kind: 'ids'; vocab: number; from: string }
  | { kind: 'ones' | 'zeros' | 'positions' | 'uniform' | 'state' }
  | { kind: 'constant'; value: number; from: string };

const STATE = /state|hidden|^[hc]\d*$|^[hc]_?0$|^[hc]n$|past|cache|memory|^prev/i;

/** Every node of the graph and of its subgraphs (If/Loop/Scan bodies read outer inputs by name). */
function allNodes(g: onnx.IGraphProto | null | undefined, out: onnx.INodeProto[] = []): onnx.INodeProto[] {
  for (const n of g?.node ?? []) {
    out.push(n);
    for (const s of subgraphsOf(n)) allNodes(s, out);
  }
  return out;
}

/** Constant values by name: initializers and Constant node outputs, in the graph and its subgraphs. */
function constants(model: onnx.IModelProto): Map<string, onnx.ITensorProto> {
  const out = new Map<string, onnx.ITensorProto>();
  const walk = (g: onnx.IGraphProto | null | undefined) => {
    for (const t of g?.initializer ?? []) if (t.name) out.set(t.name, t);
    for (const n of g?.node ?? []) {
      const c = n.opType === 'Constant' ? constantTensor(n) : undefined;
      if (c && n.output?.[0]) out.set(n.output[0], c);
      for (const s of subgraphsOf(n)) walk(s);
    }
  };
  walk(model.graph);
  return out;
}

// Ops an id or a flag passes through unchanged in meaning on its way to the node that tells its role.
const PASS_THROUGH = new Set(['Cast', 'Identity', 'Unsqueeze', 'Squeeze', 'Reshape', 'Flatten']);
// Ops through which a weight table reaches a Gather (fp16 tables are Cast up, quantized ones dequantized).
const TABLE_THROUGH = new Set(['Cast', 'Identity', 'DequantizeLinear']);

function roleOf(meta: ValueMeta, nodes: readonly onnx.INodeProto[], consts: Map<string, onnx.ITensorProto>): Role {
  const name = meta.name;
  const integer = meta.type !== undefined && /int|bool/.test(meta.type);
  if (!integer) return STATE.test(name) ? { kind: 'state' } : { kind: 'uniform' };
  // Follow the value forward through pass-through ops to what reads it.
  const names = new Set([name]);
  for (let grew = true; grew;) {
    grew = false;
    for (const n of nodes) {
      if (PASS_THROUGH.has(n.opType ?? '') && names.has(n.input?.[0] ?? '') && n.output?.[0] && !names.has(n.output[0])) {
        names.add(n.output[0]);
        grew = true;
      }
    }
  }
  const producers = new Map(nodes.flatMap((n) => (n.output ?? []).map((o) => [o, n] as const)));
  const tableRows = (data: string): number | undefined => {
    for (let v = data, hops = 0; hops < 4; hops++) {
      const t = consts.get(v);
      if (t) return tensorDims(t)[0];
      const p = producers.get(v);
      if (!p || !TABLE_THROUGH.has(p.opType ?? '')) return undefined;
      v = p.input?.[0] ?? '';
    }
    return undefined;
  };
  for (const n of nodes) {
    const ins = n.input ?? [];
    if ((n.opType === 'Gather' || n.opType === 'GatherBlockQuantized') && names.has(ins[1] ?? '')) {
      const rows = tableRows(ins[0] ?? '');
      if (rows !== undefined && rows > 0) return { kind: 'ids', vocab: rows, from: n.name || ins[0] || '?' };
    }
  }
  if (/mask/i.test(name)) return { kind: 'ones' };
  if (/type|segment/i.test(name)) return { kind: 'zeros' };
  if (/position/i.test(name)) return { kind: 'positions' };
  for (const n of nodes) {
    const ins = n.input ?? [];
    if (n.opType !== 'Equal' || ins.length !== 2) continue;
    const k = names.has(ins[0] ?? '') ? 1 : names.has(ins[1] ?? '') ? 0 : -1;
    const c = k >= 0 ? consts.get(ins[k] ?? '') : undefined;
    if (c && tensorNumel(tensorDims(c)) >= 1) {
      const v = readTensor(c).data[0];
      return { kind: 'constant', value: Number(v), from: n.name || n.output?.[0] || 'Equal' };
    }
  }
  return { kind: 'zeros' };
}

function describeRole(name: string, r: Role): string {
  switch (r.kind) {
    case 'ids':
      return `${name}: token ids < ${r.vocab} (rows of '${r.from}')`;
    case 'constant':
      return `${name}: ${r.value} (compared with it by '${r.from}')`;
    case 'state':
      return `${name}: zeros (state)`;
    case 'uniform':
      return `${name}: uniform [0, 1)`;
    default:
      return `${name}: ${r.kind}`;
  }
}

function fill(type: string, dims: readonly number[], role: Role, rng: Rng): TypedArray {
  const n = tensorNumel(dims);
  const values = new Float64Array(n);
  const last = dims.length > 0 ? dims[dims.length - 1]! : 1;
  for (let i = 0; i < n; i++) {
    switch (role.kind) {
      case 'ids':
        values[i] = rng.int(role.vocab);
        break;
      case 'ones':
        values[i] = 1;
        break;
      case 'positions':
        values[i] = i % last;
        break;
      case 'constant':
        values[i] = role.value;
        break;
      case 'uniform':
        values[i] = rng.next();
        break;
      default:
        values[i] = 0;
    }
  }
  switch (type) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return values;
    case 'float16':
      return float32ToFloat16(Float32Array.from(values));
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(v));
    case 'int32':
      return Int32Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
    default:
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `input of type ${type}: synthetic feeds are made for float, integer and bool inputs — give --data or --input`,
      );
  }
}

/**
 * `count` synthetic samples for every input of `session` (`model` is its graph, read for the roles).
 * Symbolic dims take the values chooseInputDims picks, after the symbols fixed by given inputs.
 */
export function syntheticFeedSet(session: Session, model: onnx.IModelProto, opts: SyntheticOptions = {}): FeedSet {
  const given = opts.given ?? {};
  const symbols: Record<string, number> = { ...(opts.symbols ?? {}) };
  for (const meta of session.inputs) {
    const g = given[meta.name];
    (meta.shape ?? []).forEach((d, i) => {
      if (g && typeof d === 'string' && d !== '' && g.dims[i] !== undefined) symbols[d] = g.dims[i];
    });
  }
  const chosen = chooseInputDims(
    session.inputs.map((m) => ({
      name: m.name,
      ...(m.type ? { type: m.type } : {}),
      shape: (m.shape ?? []).map((d) => (d === '' ? undefined : d)),
    })),
    { ...opts, symbols },
  );
  const nodes = allNodes(model.graph);
  const consts = constants(model);
  const roles = new Map(session.inputs.filter((m) => !given[m.name]).map((m) => [m.name, roleOf(m, nodes, consts)]));
  const count = opts.count ?? 8;
  const samples: Feeds[] = [];
  for (let k = 0; k < count; k++) {
    const rng = createRng((opts.seed ?? 0) + k);
    const feeds: Record<string, FeedTensor> = {};
    for (const meta of session.inputs) {
      const g = given[meta.name];
      if (g) {
        feeds[meta.name] = g;
        continue;
      }
      const type = meta.type ?? 'float32';
      const dims = chosen.dims[meta.name] ?? [];
      feeds[meta.name] = { data: fill(type, dims, roles.get(meta.name)!, rng), dims, type };
    }
    samples.push(feeds);
  }
  const assumed = describeAssumed(chosen.assumed);
  const parts = [...session.inputs.map((m) => (given[m.name] ? `${m.name}: given` : describeRole(m.name, roles.get(m.name)!)))];
  return {
    name: `${count} synthetic samples${assumed ? ` at ${assumed}` : ''} (${parts.join('; ')})`,
    samples,
    synthetic: true,
  };
}

/**
 * Structure-aware mutations of ONNX models: decode with core's schema, break one thing a hostile or
 * buggy exporter could write (dims, dtypes, raw_data lengths, attribute types, dangling inputs, empty
 * graphs, huge or negative dims, paths out of the folder), and re-encode. Each result is still a
 * well-formed protobuf, so it reaches the code behind the decoder.
 */
import { decodeModel, encodeModel, onnx } from '@shrink/core';
import type { Rng } from '@shrink/core/data';
import { pick } from './pick.js';

export interface OnnxMutation {
  name: string;
  bytes: Uint8Array;
}

const HOSTILE_DIMS = [0, -1, -7, 2 ** 31, 2 ** 32 + 3, 2 ** 40, 2 ** 53 - 1, 3, 1] as const;
const HOSTILE_PATHS = ['../outside.bin', '/etc/passwd', 'sub/../../x.bin', 'missing.bin', '', 'model.onnx'] as const;

// Decoded messages are class instances with every repeated field set; the I* types do not say so.
const G = (m: onnx.ModelProto) => m.graph as onnx.GraphProto;
const inits = (m: onnx.ModelProto) => G(m).initializer as onnx.TensorProto[];
const allNodes = (g: onnx.IGraphProto) => (g.node ?? []) as onnx.NodeProto[];

type Mutator = (rng: Rng, m: onnx.ModelProto) => string | undefined;

const mutators: readonly Mutator[] = [
  function tensorDims(rng, m) {
    const t = pick(rng, inits(m));
    if (!t) return undefined;
    const d = pick(rng, HOSTILE_DIMS);
    if (t.dims.length === 0 || rng.next() < 0.2) t.dims.push(d);
    else t.dims[rng.int(t.dims.length)] = d;
    return `initializer '${t.name}' dims -> [${t.dims.join(',')}]`;
  },
  function tensorDtype(rng, m) {
    const t = pick(rng, inits(m));
    if (!t) return undefined;
    t.dataType = pick(rng, [0, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 21, 22, 23, 99, -1]);
    return `initializer '${t.name}' data_type -> ${t.dataType}`;
  },
  function rawDataLength(rng, m) {
    const t = pick(rng, inits(m));
    if (!t) return undefined;
    const raw = t.rawData ?? new Uint8Array(0);
    const k = pick(rng, [-1, -3, 1, 5, -raw.length]);
    const n = Math.max(0, raw.length + k);
    const out = new Uint8Array(n);
    out.set(raw.subarray(0, Math.min(n, raw.length)));
    t.rawData = out;
    return `initializer '${t.name}' raw_data ${raw.length} -> ${n} bytes`;
  },
  function dataInTypedField(rng, m) {
    const t = pick(rng, inits(m));
    if (!t) return undefined;
    // Both raw_data and a typed field, or the typed field with the wrong count.
    t.floatData = Array.from({ length: rng.int(5) }, () => rng.normal());
    if (rng.next() < 0.5) t.rawData = new Uint8Array(0);
    return `initializer '${t.name}' float_data of ${t.floatData.length}, raw_data ${t.rawData?.length ?? 0}`;
  },
  function nonFiniteWeights(rng, m) {
    const t = inits(m).find((x) => x.dataType === onnx.TensorProto.DataType.FLOAT && (x.rawData?.length ?? 0) >= 4);
    if (!t) return undefined;
    // A fresh, aligned copy: rawData may be a Buffer view, whose slice() is another unaligned view.
    const raw = new Uint8Array(t.rawData);
    const f = new Float32Array(raw.buffer, raw.byteOffset, raw.length >> 2);
    const v = pick(rng, [NaN, Infinity, -Infinity, 1e38, 1e-42]);
    f[rng.int(f.length)] = v;
    t.rawData = raw;
    return `initializer '${t.name}' holds ${v}`;
  },
  function attributeType(rng, m) {
    const n = pick(
      rng,
      allNodes(G(m)).filter((x) => (x.attribute?.length ?? 0) > 0),
    );
    const a = n && pick(rng, n.attribute);
    if (!n || !a) return undefined;
    const choice = rng.int(4);
    if (choice === 0) a.type = pick(rng, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]) as onnx.AttributeProto.AttributeType;
    else if (choice === 1) a.ints = [pick(rng, HOSTILE_DIMS), pick(rng, HOSTILE_DIMS)];
    else if (choice === 2) a.i = pick(rng, HOSTILE_DIMS);
    else n.attribute = n.attribute.filter((x) => x !== a);
    return `node '${n.name}' attribute '${a.name}' mutation ${choice}`;
  },
  function danglingInput(rng, m) {
    const n = pick(rng, allNodes(G(m)));
    if (!n || !n.input?.length) return undefined;
    const i = rng.int(n.input.length);
    n.input[i] = pick(rng, ['does_not_exist', '', n.output?.[0] ?? 'self']);
    return `node '${n.name}' input ${i} -> '${n.input[i]}'`;
  },
  function graphShape(rng, m) {
    const g = G(m);
    const c = rng.int(5);
    if (c === 0) g.node = [];
    else if (c === 1) g.output = [];
    else if (c === 2) g.input = [];
    else if (c === 3) g.initializer = [];
    else g.node = [...allNodes(g)].reverse();
    return ['no nodes', 'no outputs', 'no inputs', 'no initializers', 'nodes reversed'][c];
  },
  function inputDims(rng, m) {
    const v = pick(rng, G(m).input);
    const dims = v?.type?.tensorType?.shape?.dim;
    if (!v || !dims?.length) return undefined;
    const d = dims[rng.int(dims.length)]!;
    const choice = rng.int(3);
    if (choice === 0) {
      d.dimValue = pick(rng, HOSTILE_DIMS);
      d.dimParam = '';
    } else if (choice === 1) v.type!.tensorType!.elemType = pick(rng, [0, 2, 7, 9, 10, 16, 99]);
    else v.type!.tensorType!.shape!.dim = [...dims, { dimValue: pick(rng, HOSTILE_DIMS) }];
    return `input '${v.name}' mutation ${choice}`;
  },
  function opsets(rng, m) {
    const o = pick(rng, m.opsetImport);
    if (!o) return undefined;
    if (rng.next() < 0.3) {
      m.opsetImport = [];
      return 'no opset_import';
    }
    o.version = pick(rng, [0, 1, 7, 9, 10, 11, 13, 21, 23, 99, -1]);
    return `opset '${o.domain}' -> ${o.version}`;
  },
  function opType(rng, m) {
    const n = pick(rng, allNodes(G(m)));
    if (!n) return undefined;
    if (rng.next() < 0.5) n.opType = pick(rng, ['NoSuchOp', '', 'If', 'Loop', 'MatMul', 'Conv', 'MatMulNBits']);
    else n.domain = pick(rng, ['com.microsoft', 'ai.onnx.ml', 'org.evil']);
    return `node '${n.name}' -> ${n.domain || 'ai.onnx'}::${n.opType}`;
  },
  function externalData(rng, m) {
    const t = pick(rng, inits(m));
    if (!t) return undefined;
    const location = pick(rng, HOSTILE_PATHS);
    const offset = pick(rng, ['0', '-1', '4096', 'abc', '1099511627776']);
    const length = pick(rng, ['16', '0', '1099511627776', '-4', '']);
    t.rawData = new Uint8Array(0);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: offset },
      { key: 'length', value: length },
    ];
    return `initializer '${t.name}' external data at '${location}' (offset '${offset}', length '${length}')`;
  },
  function duplicateNames(rng, m) {
    const g = G(m);
    const n = pick(rng, allNodes(g));
    const o = pick(rng, allNodes(g));
    if (!n || !o || !o.output?.length || !n.output?.length) return undefined;
    n.output[0] = o.output[0]!;
    return `node '${n.name}' output renamed to '${o.output[0]}'`;
  },
  function irVersion(rng, m) {
    m.irVersion = pick(rng, [1, 3, 7, 10, 11, 99]);
    return `ir_version -> ${String(m.irVersion)}`;
  },
];

/** One structural mutation of `bytes` (a valid model); falls back to another mutator when one does not apply. */
export function mutateOnnx(rng: Rng, bytes: Uint8Array): OnnxMutation {
  const m = decodeModel(bytes);
  const names: string[] = [];
  // One to three mutations: single faults find the checks, combinations find the assumptions between them.
  const rounds = 1 + (rng.next() < 0.3 ? 1 + rng.int(2) : 0);
  for (let r = 0, tries = 0; r < rounds && tries < 20; tries++) {
    const fn = pick(rng, mutators);
    const name = fn(rng, m);
    if (name !== undefined) {
      names.push(`${fn.name}: ${name}`);
      r++;
    }
  }
  return { name: names.join('; '), bytes: encodeModel(m) };
}

/**
 * Reading values inside a graph: calibration needs the activations feeding each quantized op, per-layer
 * debugging needs to see where two models start to differ. onnxruntime only returns graph outputs, so
 * the values are made graph outputs of a copy of the model.
 */
import { ShrinkError } from '../errors.js';
import { onnx } from '../onnx/proto.js';
import type { Ctx } from '../context.js';
import { createSession, type Feeds, type SessionOptions } from './session.js';
import { tensorToFloat32 } from './tensors.js';

const T = onnx.TensorProto.DataType;
const FLOAT_TYPES: ReadonlySet<number> = new Set([T.FLOAT, T.FLOAT16, T.DOUBLE, T.BFLOAT16]);
const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);

function attrOf(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

/**
 * Element type (TensorProto.DataType) of each value the graph's declarations or a small op table can
 * tell: graph inputs, initializers, value_info and outputs first, then node by node in graph order
 * (topological in a valid model). Most ops output their first input's type; the table lists the rest.
 * Values it cannot tell are absent.
 */
export function elemTypes(graph: onnx.IGraphProto): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of [...(graph.input ?? []), ...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
    const et = v.type?.tensorType?.elemType;
    if (v.name && et) types.set(v.name, et);
  }
  for (const t of graph.initializer ?? []) if (t.name && t.dataType) types.set(t.name, t.dataType);
  const typeOf = (name: string | undefined) => (name ? types.get(name) : undefined);
  for (const node of graph.node ?? []) {
    const ins = node.input ?? [];
    const outs = node.output ?? [];
    const op = node.opType ?? '';
    const first = ins.map(typeOf).find((t) => t !== undefined);
    const toAttr = attrOf(node, 'to')?.i ?? attrOf(node, 'dtype')?.i;
    const rule = (i: number): number | undefined => {
      if (BOOL_OUT.has(op)) return T.BOOL;
      if (INT64_OUT.has(op)) return T.INT64;
      switch (op) {
        case 'Cast':
          return toAttr !== undefined ? Number(toAttr) : undefined;
        case 'CastLike':
          return typeOf(ins[1]);
        case 'Constant': {
          const v = node.attribute?.[0];
          if (v?.t) return v.t.dataType ?? undefined;
          if (v?.name === 'value_float' || v?.name === 'value_floats') return T.FLOAT;
          if (v?.name === 'value_int' || v?.name === 'value_ints') return T.INT64;
          return undefined;
        }
        case 'ConstantOfShape':
          return attrOf(node, 'value')?.t?.dataType ?? T.FLOAT;
        case 'RandomNormal':
        case 'RandomUniform':
        case 'RandomNormalLike':
        case 'RandomUniformLike':
        case 'EyeLike':
          return toAttr !== undefined ? Number(toAttr) : op.endsWith('Like') ? first : T.FLOAT;
        case 'QuantizeLinear':
          return typeOf(ins[2]) ?? T.UINT8;
        case 'DequantizeLinear':
          return typeOf(ins[1]) ?? T.FLOAT;
        case 'DynamicQuantizeLinear':
          return i === 1 ? T.FLOAT : T.UINT8;
        case 'MatMulInteger':
        case 'ConvInteger':
          return T.INT32;
        case 'QLinearMatMul':
        case 'QLinearConv':
          return typeOf(ins[7]);
        case 'Where':
          return typeOf(ins[1]);
        case 'TopK':
        case 'MaxPool':
          return i === 1 ? T.INT64 : first;
        case 'Dropout':
          return i === 1 ? T.BOOL : first;
        case 'If':
        case 'Loop':
        case 'Scan':
          return undefined;
        default:
          return first;
      }
    };
    outs.forEach((name, i) => {
      if (!name || types.has(name)) return;
      const t = rule(i);
      if (t !== undefined && t !== 0) types.set(name, t);
    });
  }
  return types;
}

/**
 * A copy of `model` whose graph also outputs `names` (default: every float output of a top-level node
 * whose type is known). The input is not modified; the copy shares nodes and tensors with it.
 * Values already among the outputs are not added twice.
 */
export function exposeIntermediates(model: onnx.IModelProto, names?: readonly string[]): onnx.ModelProto {
  const graph = model.graph;
  if (!graph) throw new ShrinkError('INVALID_MODEL', 'exposeIntermediates: the model has no graph');
  const types = elemTypes(graph);
  const produced = new Set((graph.node ?? []).flatMap((n) => n.output ?? []).filter((n) => n !== ''));
  const known = new Set([...produced, ...(graph.input ?? []).map((v) => v.name ?? '')]);
  let wanted: string[];
  if (names === undefined) {
    wanted = [...produced].filter((n) => FLOAT_TYPES.has(types.get(n) ?? 0));
  } else {
    for (const n of names) {
      if (!known.has(n)) {
        throw new ShrinkError('NOT_FOUND', `exposeIntermediates: no node output or graph input is named '${n}'`);
      }
    }
    wanted = [...new Set(names)];
  }
  const present = new Set((graph.output ?? []).map((o) => o.name));
  const declared = new Map((graph.valueInfo ?? []).map((v) => [v.name, v]));
  const added = wanted
    .filter((n) => !present.has(n))
    .map((name) => {
      const vi = declared.get(name);
      if (vi?.type) return onnx.ValueInfoProto.create({ name, type: vi.type });
      const et = types.get(name);
      // Without a declared type onnxruntime infers the output's type and shape itself.
      return et === undefined ? onnx.ValueInfoProto.create({ name }) : onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: et } } });
    });
  return onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({ ...graph, output: [...(graph.output ?? []), ...added] }),
  });
}

export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/**
 * Runs `model` once on `feeds` and returns the named values (default: every float node output) as
 * float32. For many batches, create one session on `exposeIntermediates(model)` instead.
 */
export async function runWithIntermediates(
  model: onnx.IModelProto,
  feeds: Feeds,
  opts: { names?: readonly string[]; session?: SessionOptions } = {},
  ctx?: Ctx,
): Promise<Map<string, FloatTensor>> {
  const exposed = exposeIntermediates(model, opts.names);
  const session = await createSession(exposed, opts.session ?? {}, ctx);
  try {
    const wanted = opts.names ?? (exposed.graph?.output ?? []).map((o) => o.name ?? '').filter((n) => n !== '');
    const out = await session.run(feeds, [...new Set(wanted)]);
    const result = new Map<string, FloatTensor>();
    for (const name of wanted) {
      const t = out[name]!;
      result.set(name, { data: tensorToFloat32(t, `value '${name}'`), dims: [...t.dims] });
    }
    return result;
  } finally {
    await session.release();
  }
}

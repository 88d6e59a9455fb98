/**
 * Reading values inside a graph: calibration needs the activations feeding each quantized op, per-layer
 * debugging needs to see where two models start to differ. onnxruntime only returns graph outputs, so
 * the values are made graph outputs of a copy of the model.
 */
import { ShrinkError } from '../errors.js';
import { elemTypes } from '../onnx/elem-types.js';
import { onnx } from '../onnx/proto.js';
import type { Ctx } from '../context.js';
import { createSession, type Feeds, type SessionOptions } from './session.js';
import { tensorToFloat32 } from './tensors.js';

// Also offered here, where --explain and the calibration code look for value types beside the values.
export { elemTypes } from '../onnx/elem-types.js';

const T = onnx.TensorProto.DataType;
const FLOAT_TYPES: ReadonlySet<number> = new Set([T.FLOAT, T.FLOAT16, T.DOUBLE, T.BFLOAT16]);

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
      return et === undefined
        ? onnx.ValueInfoProto.create({ name })
        : onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: et } } });
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

/**
 * Element types of the values of a graph, from what it declares and a table of op rules: which values
 * are float (for exposing intermediates, and the float16 pass), what type a tensor cut out of a model
 * has. Declared types (graph inputs, outputs, value_info, initializers) win; a node's outputs follow
 * its op's rule, and ops without one take the type of their first typed input (right for elementwise
 * ops, MatMul/Conv/pooling, shape-moving ops and most contrib ops).
 */
import { constantTensor } from './constant-tensor.js';
import { findAttr, Graph } from './graph.js';
import { normalDomain } from './domain.js';
import { onnx } from './proto.js';
import { dtypeFromOnnx, type DType } from './tensor.js';

const T = onnx.TensorProto.DataType;

/** Output element types (TensorProto.DataType codes, undefined = unknown) from the input types. */
type Rule = (inputs: readonly (number | undefined)[], node: onnx.INodeProto) => (number | undefined)[];

/** A type attribute (Cast's `to`, Random*'s `dtype`); 0 or absent is unknown. */
function attrCode(node: onnx.INodeProto, name: string): number | undefined {
  const i = findAttr(node, name)?.i;
  const code = i === undefined || i === null ? 0 : Number(i);
  return code === 0 ? undefined : code;
}

const all =
  (t: number): Rule =>
  (_i, n) =>
    (n.output ?? []).map(() => t);
const fromInput =
  (i: number): Rule =>
  (ins, n) =>
    (n.output ?? []).map(() => ins[i]);
const firstThen =
  (...rest: number[]): Rule =>
  (ins) => [ins[0], ...rest];
const attrOr =
  (name: string, dflt: (ins: readonly (number | undefined)[]) => number | undefined): Rule =>
  (ins, n) => [attrCode(n, name) ?? dflt(ins)];

/** Declared output types of a subgraph attribute, from `skip` on (Loop's body starts with its condition). */
const bodyOutputs =
  (attr: string, skip: number): Rule =>
  (_i, n) => {
    const g = findAttr(n, attr)?.g;
    return (n.output ?? []).map((_, i) => g?.output?.[i + skip]?.type?.tensorType?.elemType || undefined);
  };

const BOOL_OPS = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf'];
const INT64_OPS = ['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression'];

/** Output types by op type, for the default domain and com.microsoft (whose same-named ops type alike). */
export const TYPE_RULES: ReadonlyMap<string, Rule> = new Map<string, Rule>([
  ...BOOL_OPS.map((op): [string, Rule] => [op, all(T.BOOL)]),
  ...INT64_OPS.map((op): [string, Rule] => [op, all(T.INT64)]),
  ['Constant', (_i, n) => [constantTensor(n)?.dataType || undefined]],
  ['Cast', (_i, n) => [attrCode(n, 'to')]],
  ['CastLike', fromInput(1)],
  ['Where', fromInput(1)],
  ['OneHot', fromInput(2)],
  ['TopK', firstThen(T.INT64)],
  ['MaxPool', firstThen(T.INT64)],
  ['Unique', firstThen(T.INT64, T.INT64, T.INT64)],
  ['Dropout', firstThen(T.BOOL)],
  ['LayerNormalization', firstThen(T.FLOAT, T.FLOAT)],
  ['ConstantOfShape', (_i, n) => [findAttr(n, 'value')?.t?.dataType || T.FLOAT]],
  ['EyeLike', attrOr('dtype', (ins) => ins[0])],
  ['RandomNormal', attrOr('dtype', () => T.FLOAT)],
  ['RandomUniform', attrOr('dtype', () => T.FLOAT)],
  ['RandomNormalLike', attrOr('dtype', (ins) => ins[0])],
  ['RandomUniformLike', attrOr('dtype', (ins) => ins[0])],
  ['Bernoulli', attrOr('dtype', (ins) => ins[0])],
  ['Multinomial', attrOr('dtype', () => T.INT32)],
  ['QuantizeLinear', (ins, n) => [ins[2] ?? attrCode(n, 'output_dtype') ?? T.UINT8]],
  ['DequantizeLinear', (ins) => [ins[1] ?? T.FLOAT]],
  ['DynamicQuantizeLinear', () => [T.UINT8, T.FLOAT, T.UINT8]],
  ['MatMulInteger', all(T.INT32)],
  ['ConvInteger', all(T.INT32)],
  ['QLinearMatMul', fromInput(7)],
  ['QLinearConv', fromInput(7)],
  ['If', bodyOutputs('then_branch', 0)],
  ['Loop', bodyOutputs('body', 1)],
  ['Scan', bodyOutputs('body', 0)],
]);

const RULE_DOMAINS: ReadonlySet<string> = new Set(['', 'com.microsoft']);

/** What type inference reads of a graph: a GraphProto, or a Graph view's lists. */
interface GraphParts {
  readonly input?: readonly onnx.IValueInfoProto[] | null;
  readonly output?: readonly onnx.IValueInfoProto[] | null;
  readonly valueInfo?: readonly onnx.IValueInfoProto[] | null;
  readonly initializer?: readonly onnx.ITensorProto[] | null;
  readonly node?: readonly onnx.INodeProto[] | null;
}

function partsOf(graph: Graph | GraphParts): GraphParts {
  if (!(graph instanceof Graph)) return graph;
  return { input: graph.inputs, output: graph.outputs, valueInfo: graph.valueInfo, initializer: graph.initializers, node: graph.nodes };
}

/**
 * Element type (TensorProto.DataType) of every value the declarations or the op rules can tell, in
 * graph order (topological in a valid model); values it cannot tell are absent. Types Shrink does not
 * carry (INT4, float8 ...) are kept as their codes.
 */
export function elemTypes(graph: Graph | GraphParts): Map<string, number> {
  const g = partsOf(graph);
  const declared = new Map<string, number>();
  // Later entries win: graph inputs and outputs are the declared interface, initializers what is stored.
  for (const v of [...(g.valueInfo ?? []), ...(g.output ?? []), ...(g.input ?? [])]) {
    const code = v.type?.tensorType?.elemType;
    if (v.name && code) declared.set(v.name, code);
  }
  for (const t of g.initializer ?? []) if (t.name && t.dataType) declared.set(t.name, t.dataType);
  const types = new Map(declared);
  for (const node of g.node ?? []) {
    const ins = (node.input ?? []).map((i) => (i ? types.get(i) : undefined));
    const rule = RULE_DOMAINS.has(normalDomain(node.domain)) ? TYPE_RULES.get(node.opType ?? '') : undefined;
    const first = ins.find((t) => t !== undefined);
    const outs = rule ? rule(ins, node) : (node.output ?? []).map(() => first);
    (node.output ?? []).forEach((o, i) => {
      const t = outs[i];
      if (o && !types.has(o) && t !== undefined) types.set(o, t);
    });
  }
  return types;
}

/** elemTypes as Shrink's DTypes: values of a type Shrink does not carry are left out with the unknown ones. */
export function inferDtypes(graph: Graph | GraphParts): Map<string, DType> {
  const out = new Map<string, DType>();
  for (const [name, code] of elemTypes(graph)) {
    try {
      out.set(name, dtypeFromOnnx(code));
    } catch {
      // Not a type Shrink carries (e.g. INT4): not float32, so no pass converts it.
    }
  }
  return out;
}

/**
 * Element types of every value in a graph, for the float16 pass: which tensors are float32 and so
 * change type. Declared types (inputs, outputs, value_info, initializers, Constant nodes) win; other
 * values follow per-op rules, and ops without a rule take the type of their first typed input (right
 * for elementwise, MatMul/Conv/pooling, shape-moving and most contrib ops).
 */
import { dtypeFromOnnx, findAttr, typeDtype, type DType, type Graph, type onnx } from '@shrink/core';

type Rule = (inputs: (DType | undefined)[], node: onnx.NodeProto) => (DType | undefined)[];

function attrDtype(node: onnx.NodeProto, name: string): DType | undefined {
  const a = findAttr(node, name);
  if (!a || a.i === undefined || a.i === null) return undefined;
  try {
    return dtypeFromOnnx(Number(a.i));
  } catch {
    return undefined;
  }
}

const all = (t: DType): Rule => (_i, n) => n.output.map(() => t);
const fromInput = (i: number): Rule => (ins, n) => n.output.map(() => ins[i]);
const firstThen = (...rest: DType[]): Rule => (ins) => [ins[0], ...rest];

const BOOL_OPS = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf'];
const INT64_OPS = ['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin'];

/** Output types by op type (default domain); unlisted ops take their first typed input's type. */
export const TYPE_RULES: ReadonlyMap<string, Rule> = new Map<string, Rule>([
  ...BOOL_OPS.map((op): [string, Rule] => [op, all('bool')]),
  ...INT64_OPS.map((op): [string, Rule] => [op, all('int64')]),
  ['Cast', (_i, n) => [attrDtype(n, 'to')]],
  ['CastLike', fromInput(1)],
  ['Where', fromInput(1)],
  ['OneHot', fromInput(2)],
  ['TopK', firstThen('int64')],
  ['MaxPool', firstThen('int64')],
  ['Unique', firstThen('int64', 'int64', 'int64')],
  ['Dropout', firstThen('bool')],
  ['LayerNormalization', firstThen('float32', 'float32')],
  ['ConstantOfShape', (_i, n) => {
    const t = findAttr(n, 'value')?.t;
    return [t ? tensorDtype(t) : 'float32'];
  }],
  ['EyeLike', (ins, n) => [attrDtype(n, 'dtype') ?? ins[0]]],
  ['RandomNormal', (_i, n) => [attrDtype(n, 'dtype') ?? 'float32']],
  ['RandomUniform', (_i, n) => [attrDtype(n, 'dtype') ?? 'float32']],
  ['RandomNormalLike', (ins, n) => [attrDtype(n, 'dtype') ?? ins[0]]],
  ['RandomUniformLike', (ins, n) => [attrDtype(n, 'dtype') ?? ins[0]]],
  ['Bernoulli', (ins, n) => [attrDtype(n, 'dtype') ?? ins[0]]],
  ['Multinomial', (_i, n) => [attrDtype(n, 'dtype') ?? 'int32']],
  ['QuantizeLinear', (ins, n) => [ins[2] ?? attrDtype(n, 'output_dtype') ?? 'uint8']],
  ['DequantizeLinear', fromInput(1)],
  ['DynamicQuantizeLinear', () => ['uint8', 'float32', 'uint8']],
  ['MatMulInteger', all('int32')],
  ['ConvInteger', all('int32')],
  ['QLinearMatMul', fromInput(7)],
  ['QLinearConv', fromInput(7)],
]);

function constantDtype(node: onnx.NodeProto): DType | undefined {
  const a = (node.attribute ?? [])[0];
  if (!a) return undefined;
  switch (a.name) {
    case 'value':
      return a.t ? tensorDtype(a.t) : undefined;
    case 'value_float':
    case 'value_floats':
      return 'float32';
    case 'value_int':
    case 'value_ints':
      return 'int64';
    case 'value_string':
    case 'value_strings':
      return 'string';
    default:
      return undefined;
  }
}

/** Element type of every value name the graph defines or reads (undefined where it cannot be told). */
export function inferDtypes(graph: Graph): Map<string, DType | undefined> {
  const types = new Map<string, DType | undefined>();
  const declared = new Map<string, DType>();
  for (const v of [...graph.valueInfo, ...graph.outputs, ...graph.inputs]) {
    const t = typeDtype(v.type);
    if (t) declared.set(v.name, t);
  }
  for (const t of graph.initializers) {
    const d = tensorDtype(t);
    if (d) declared.set(t.name, d);
  }
  for (const [name, t] of declared) types.set(name, t);
  for (const node of graph.nodes) {
    const domain = node.domain === 'ai.onnx' ? '' : (node.domain ?? '');
    const ins = node.input.map((i) => (i ? types.get(i) : undefined));
    let outs: (DType | undefined)[];
    if (domain === '' && node.opType === 'Constant') outs = [constantDtype(node)];
    else {
      const rule = domain === '' ? TYPE_RULES.get(node.opType) : undefined;
      const first = ins.find((t) => t !== undefined);
      outs = rule ? rule(ins, node) : node.output.map(() => first);
    }
    node.output.forEach((o, i) => {
      if (o) types.set(o, declared.get(o) ?? outs[i]);
    });
  }
  return types;
}

function tensorDtype(t: onnx.ITensorProto): DType | undefined {
  try {
    return dtypeFromOnnx(t.dataType ?? 0);
  } catch {
    return undefined; // a type Shrink does not carry (e.g. INT4): not float32, so not this pass's business
  }
}

// Models for the shape/opset tests: symbolic dims, and parts no pass understands (If, Loop, a function).
import { attr, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, onnx } from '@shrink/core';
import { createRng } from '@shrink/core/data';

const rand = (seed: number, n: number, scale: number) => {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
};

/** x[N, S, 64] -> MatMul -> Add -> Relu -> MatMul -> Add -> y[N, S, 3]: dynamic batch and a symbolic length. */
export function symbolicMlp(opset: number): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'w1'], ['h0'], {}, { name: 'fc1' }),
        makeNode('Add', ['h0', 'b1'], ['h1'], {}, { name: 'fc1_bias' }),
        makeNode('Relu', ['h1'], ['h2'], {}, { name: 'relu' }),
        makeNode('MatMul', ['h2', 'w2'], ['h3'], {}, { name: 'fc2' }),
        makeNode('Add', ['h3', 'b2'], ['y'], {}, { name: 'fc2_bias' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', 'S', 64])],
      outputs: [makeValueInfo('y', 'float32', ['N', 'S', 3])],
      initializers: [
        makeTensor('w1', 'float32', [64, 32], rand(1, 64 * 32, 0.2)),
        makeTensor('b1', 'float32', [32], rand(2, 32, 0.05)),
        makeTensor('w2', 'float32', [32, 3], rand(3, 32 * 3, 0.3)),
        makeTensor('b2', 'float32', [3], rand(4, 3, 0.05)),
      ],
    }),
    { opset },
  );
}

/** x[N, 1, H, W] -> Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> y[N, 3]: any image size. */
export function symbolicConv(opset: number): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'cw', 'cb'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv1' }),
        makeNode('Relu', ['c'], ['r'], {}, { name: 'relu' }),
        makeNode('GlobalAveragePool', ['r'], ['p'], {}, { name: 'gap' }),
        makeNode('Flatten', ['p'], ['f'], { axis: 1 }, { name: 'flatten' }),
        makeNode('Gemm', ['f', 'fw', 'fb'], ['y'], { transB: 1 }, { name: 'fc' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', 1, 'H', 'W'])],
      outputs: [makeValueInfo('y', 'float32', ['N', 3])],
      initializers: [
        makeTensor('cw', 'float32', [8, 1, 3, 3], rand(5, 72, 0.3)),
        makeTensor('cb', 'float32', [8], rand(6, 8, 0.05)),
        makeTensor('fw', 'float32', [3, 8], rand(7, 24, 0.3)),
        makeTensor('fb', 'float32', [3], rand(8, 3, 0.05)),
      ],
    }),
    { opset },
  );
}

/** The float front every control-flow model shares: x[N,64] -> MatMul(w1) -> Relu -> h[N,16]. */
function front(): { nodes: onnx.NodeProto[]; inits: onnx.TensorProto[] } {
  return {
    nodes: [makeNode('MatMul', ['x', 'w1'], ['h0'], {}, { name: 'fc1' }), makeNode('Relu', ['h0'], ['h'], {}, { name: 'relu' })],
    inits: [makeTensor('w1', 'float32', [64, 16], rand(9, 64 * 16, 0.2))],
  };
}

const branch = (name: string, seed: number): onnx.GraphProto =>
  makeGraph({
    name,
    nodes: [makeNode('MatMul', ['h', `${name}_w`], [`${name}_y`], {}, { name: `${name}_mm` })],
    inputs: [],
    outputs: [makeValueInfo(`${name}_y`, 'float32', ['N', 3])],
    // A weight inside the branch: a pass that walked subgraphs would quantize or prune it.
    initializers: [makeTensor(`${name}_w`, 'float32', [16, 3], rand(seed, 48, 0.3))],
  });

/** y = If(flag, then: h @ Wt, else: h @ We) after a float front. */
export function ifModel(): onnx.ModelProto {
  const f = front();
  return makeModel(
    makeGraph({
      nodes: [
        ...f.nodes,
        makeNode(
          'If',
          ['flag'],
          ['y'],
          { then_branch: attr.graph(branch('then', 10)), else_branch: attr.graph(branch('else', 11)) },
          { name: 'choose' },
        ),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', 64])],
      outputs: [makeValueInfo('y', 'float32', ['N', 3])],
      initializers: [...f.inits, makeTensor('flag', 'bool', [], [1])],
    }),
    { opset: 17 },
  );
}

/** v = h; repeat 2 times: v = Relu(v @ Wl); y = v. */
export function loopModel(): onnx.ModelProto {
  const f = front();
  const body = makeGraph({
    name: 'body',
    nodes: [
      makeNode('Identity', ['cond_in'], ['cond_out'], {}, { name: 'keep_going' }),
      makeNode('MatMul', ['v_in', 'wl'], ['v_mm'], {}, { name: 'body_mm' }),
      makeNode('Relu', ['v_mm'], ['v_out'], {}, { name: 'body_relu' }),
    ],
    inputs: [makeValueInfo('iter', 'int64', []), makeValueInfo('cond_in', 'bool', []), makeValueInfo('v_in', 'float32', ['N', 16])],
    outputs: [makeValueInfo('cond_out', 'bool', []), makeValueInfo('v_out', 'float32', ['N', 16])],
    initializers: [makeTensor('wl', 'float32', [16, 16], rand(12, 256, 0.25))],
  });
  return makeModel(
    makeGraph({
      nodes: [...f.nodes, makeNode('Loop', ['trips', 'go', 'h'], ['y'], { body: attr.graph(body) }, { name: 'repeat' })],
      inputs: [makeValueInfo('x', 'float32', ['N', 64])],
      outputs: [makeValueInfo('y', 'float32', ['N', 16])],
      initializers: [...f.inits, makeTensor('trips', 'int64', [], [2]), makeTensor('go', 'bool', [], [1])],
    }),
    { opset: 17 },
  );
}

/** y = local.Dense(h, W2): a model-local function (MatMul + Relu) called from the main graph. */
export function functionModel(): onnx.ModelProto {
  const f = front();
  const model = makeModel(
    makeGraph({
      nodes: [...f.nodes, makeNode('Dense', ['h', 'w2'], ['y'], {}, { name: 'dense', domain: 'local' })],
      inputs: [makeValueInfo('x', 'float32', ['N', 64])],
      outputs: [makeValueInfo('y', 'float32', ['N', 3])],
      initializers: [...f.inits, makeTensor('w2', 'float32', [16, 3], rand(13, 48, 0.3))],
    }),
    { opset: { '': 17, local: 1 } },
  );
  model.functions = [
    onnx.FunctionProto.create({
      name: 'Dense',
      domain: 'local',
      input: ['a', 'w'],
      output: ['o'],
      node: [makeNode('MatMul', ['a', 'w'], ['t'], {}, { name: 'fn_mm' }), makeNode('Relu', ['t'], ['o'], {}, { name: 'fn_relu' })],
      opsetImport: [{ domain: '', version: 17 }],
    }),
  ];
  return model;
}

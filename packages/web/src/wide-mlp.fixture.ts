// A wide float32 MLP made with core's builder (seeded weights): big enough to time and to cancel mid-pass.
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@shrink/core';

export function wideMlp(width: number, layers: number): Uint8Array {
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.05;
  const nodes = [];
  const inits = [];
  let x = 'x';
  for (let l = 0; l < layers; l++) {
    const w = new Float32Array(width * width);
    for (let i = 0; i < w.length; i++) w[i] = rand();
    inits.push(makeTensor(`w${l}`, 'float32', [width, width], w, { copy: false }));
    const y = l === layers - 1 ? 'y' : `h${l}`;
    nodes.push(makeNode('MatMul', [x, `w${l}`], [l === layers - 1 ? y : `m${l}`], {}, { name: `mm${l}` }));
    if (l < layers - 1) nodes.push(makeNode('Relu', [`m${l}`], [y], {}, { name: `relu${l}` }));
    x = y;
  }
  const graph = makeGraph({
    nodes,
    inputs: [makeValueInfo('x', 'float32', [1, width])],
    outputs: [makeValueInfo('y', 'float32', [1, width])],
    initializers: inits,
  });
  return encodeModel(makeModel(graph, { opset: 17 }));
}

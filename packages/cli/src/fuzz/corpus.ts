/**
 * The fuzz corpus: small but real models and files, made the way users make them — with core's ONNX
 * builder and by running the real passes (so quantized and pruned graphs, with their integer
 * initializers and com.microsoft ops, are mutated too), a tfjs layers folder, and CSV/JSON data files.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, type onnx } from '@shrink/core';
import { createRng } from '@shrink/core/data';
import { quantizeModel, resolveCalibration } from '@shrink/quantize/runtime';
import { pruneModel } from '@shrink/prune/runtime';

/** Features per sample of every corpus model and data file (8x8, reshaped for the conv net). */
export const FEATURES = 64;
export const CLASSES = 3;

export interface Corpus {
  dir: string;
  /** File name (in `dir`) -> bytes, for every seed file the mutators start from. */
  onnx: ReadonlyMap<string, Uint8Array>;
  /** The tfjs folder's files: model.json (text) and its weights. */
  tfjs: { modelJson: string; weights: Uint8Array; weightsName: string };
  data: { json: string; csv: string };
}

function weights(rng: ReturnType<typeof createRng>, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** x[N,64] -> MatMul+Add -> Relu -> Gemm(transB) -> y[N,3]: both forms the passes handle. */
export function tinyMlp(seed = 1): onnx.ModelProto {
  const rng = createRng(seed);
  const hidden = 16;
  return makeModel(
    makeGraph({
      name: 'mlp',
      nodes: [
        makeNode('MatMul', ['x', 'w1'], ['h0'], {}, { name: 'fc1' }),
        makeNode('Add', ['h0', 'b1'], ['h1'], {}, { name: 'fc1_bias' }),
        makeNode('Relu', ['h1'], ['h2'], {}, { name: 'relu' }),
        makeNode('Gemm', ['h2', 'w2', 'b2'], ['y'], { transB: 1 }, { name: 'fc2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', FEATURES])],
      outputs: [makeValueInfo('y', 'float32', ['N', CLASSES])],
      initializers: [
        makeTensor('w1', 'float32', [FEATURES, hidden], weights(rng, FEATURES * hidden, 0.2)),
        makeTensor('b1', 'float32', [hidden], weights(rng, hidden, 0.05)),
        makeTensor('w2', 'float32', [CLASSES, hidden], weights(rng, CLASSES * hidden, 0.3)),
        makeTensor('b2', 'float32', [CLASSES], weights(rng, CLASSES, 0.05)),
      ],
    }),
    { opset: 17 },
  );
}

/** x[N,1,8,8] -> Conv(4, 3x3, pad 1) -> Relu -> MaxPool 2 -> Flatten -> Gemm -> y[N,3]. */
export function tinyConv(seed = 2): onnx.ModelProto {
  const rng = createRng(seed);
  const ch = 4;
  return makeModel(
    makeGraph({
      name: 'conv',
      nodes: [
        makeNode('Conv', ['x', 'cw', 'cb'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv1' }),
        makeNode('Relu', ['c'], ['r'], {}, { name: 'relu' }),
        makeNode('MaxPool', ['r'], ['p'], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'pool' }),
        makeNode('Flatten', ['p'], ['f'], { axis: 1 }, { name: 'flatten' }),
        makeNode('Gemm', ['f', 'fw', 'fb'], ['y'], { transB: 1 }, { name: 'fc' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', 1, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', ['N', CLASSES])],
      initializers: [
        makeTensor('cw', 'float32', [ch, 1, 3, 3], weights(rng, ch * 9, 0.3)),
        makeTensor('cb', 'float32', [ch], weights(rng, ch, 0.05)),
        makeTensor('fw', 'float32', [CLASSES, ch * 16], weights(rng, CLASSES * ch * 16, 0.2)),
        makeTensor('fb', 'float32', [CLASSES], weights(rng, CLASSES, 0.05)),
      ],
    }),
    { opset: 17 },
  );
}

/** A tiny classification set in both file formats --data accepts. */
export function dataFiles(seed = 3, rows = 12): { json: string; csv: string; x: number[][]; y: number[] } {
  const rng = createRng(seed);
  const x = Array.from({ length: rows }, () => Array.from({ length: FEATURES }, () => Math.round(rng.next() * 1000) / 1000));
  const y = Array.from({ length: rows }, (_, i) => i % CLASSES);
  const header = [...Array.from({ length: FEATURES }, (_, i) => `f${i}`), 'label'].join(',');
  const csv = [header, ...x.map((r, i) => [...r, y[i]].join(','))].join('\n') + '\n';
  return { json: JSON.stringify({ x, y }), csv, x, y };
}

/** Builds the corpus in `dir` (created): float, quantized and pruned models, a tfjs folder, data files. */
export async function buildCorpus(dir: string): Promise<Corpus> {
  await mkdir(dir, { recursive: true });
  const data = dataFiles();
  await writeFile(path.join(dir, 'data.json'), data.json);
  await writeFile(path.join(dir, 'data.csv'), data.csv);
  const calibration = await resolveCalibration(path.join(dir, 'data.json'), tinyMlp());
  const models = new Map<string, onnx.IModelProto>();
  for (const [name, base] of [
    ['mlp', tinyMlp()],
    ['conv', tinyConv()],
  ] as const) {
    models.set(`${name}.onnx`, base);
    models.set(`${name}_q8.onnx`, (await quantizeModel(base, { dtype: 'q8' })).model);
    models.set(`${name}_int8_static.onnx`, (await quantizeModel(base, { dtype: 'int8', mode: 'static' }, { calibration })).model);
    models.set(`${name}_fp16.onnx`, (await quantizeModel(base, { dtype: 'fp16' })).model);
    models.set(`${name}_pruned.onnx`, (await pruneModel(base, { method: 'magnitude', sparsity: 0.5 })).model);
    models.set(`${name}_structured.onnx`, (await pruneModel(base, { method: 'structured', sparsity: 0.5 })).model);
  }
  models.set('mlp_q4.onnx', (await quantizeModel(tinyMlp(), { dtype: 'q4', blockSize: 16 })).model);
  models.set('mlp_nm.onnx', (await pruneModel(tinyMlp(), { method: 'nm' })).model);
  const onnxBytes = new Map<string, Uint8Array>();
  for (const [name, m] of models) {
    // Plain Uint8Arrays, as loadCorpus gives the workers: case i must come out the same on both sides.
    const bytes = new Uint8Array(encodeModel(m));
    onnxBytes.set(name, bytes);
    await writeFile(path.join(dir, name), bytes);
  }
  const tfjs = await tfjsFolder(path.join(dir, 'tfjs'));
  return { dir, onnx: onnxBytes, tfjs, data: { json: data.json, csv: data.csv } };
}

async function tfjsFolder(dir: string): Promise<Corpus['tfjs']> {
  const { initTf, saveLayersModel, MODEL_JSON, WEIGHTS_FILE } = await import('@shrink/core/tfjs');
  const { tf } = await initTf({}, 'cpu');
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [FEATURES],
        units: 8,
        activation: 'relu',
        name: 'd1',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({ units: CLASSES, name: 'logits', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  try {
    await saveLayersModel(model, dir);
  } finally {
    model.dispose();
  }
  return {
    modelJson: await readFile(path.join(dir, MODEL_JSON), 'utf8'),
    weights: await readFile(path.join(dir, WEIGHTS_FILE)),
    weightsName: WEIGHTS_FILE,
  };
}

/** Reads back a corpus that buildCorpus wrote (workers build nothing; they read what the parent made). */
export async function loadCorpus(dir: string): Promise<Corpus> {
  const { MODEL_JSON, WEIGHTS_FILE } = await import('@shrink/core/tfjs');
  const onnxFiles = (await readdir(dir)).filter((f) => f.endsWith('.onnx')).sort();
  const onnx = new Map<string, Uint8Array>();
  for (const f of onnxFiles) onnx.set(f, new Uint8Array(await readFile(path.join(dir, f))));
  return {
    dir,
    onnx,
    tfjs: {
      modelJson: await readFile(path.join(dir, 'tfjs', MODEL_JSON), 'utf8'),
      weights: new Uint8Array(await readFile(path.join(dir, 'tfjs', WEIGHTS_FILE))),
      weightsName: WEIGHTS_FILE,
    },
    data: { json: await readFile(path.join(dir, 'data.json'), 'utf8'), csv: await readFile(path.join(dir, 'data.csv'), 'utf8') },
  };
}

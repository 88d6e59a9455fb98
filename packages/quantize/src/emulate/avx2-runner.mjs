// Runs ONNX models in onnxruntime-node and writes each model's first output as raw float32, for a
// parent process that started this one under an emulated CPU (qemu-x86_64 -cpu Haswell: AVX2, no
// AVX-512, no VNNI). Plain JavaScript: a TypeScript loader would cost seconds of emulated start-up.
// argv: <onnxruntime-node entry> <spec.json>; spec: { models: [path], input: { file, dims }, outDir }.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [ortEntry, specFile] = process.argv.slice(2);
const ort = createRequire(import.meta.url)(ortEntry);
const spec = JSON.parse(readFileSync(specFile, 'utf8'));
const raw = readFileSync(spec.input.file);
const x = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
for (const [i, file] of spec.models.entries()) {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, spec.input.dims) });
  const y = out[session.outputNames[0]].data;
  writeFileSync(path.join(spec.outDir, `${i}.f32`), Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  await session.release();
}

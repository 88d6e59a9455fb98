#!/usr/bin/env node
// Realistic inputs for the corpus models: for each entry's `inputs` recipe, writes
// .cache/corpus/<id>.feeds.npz (one sample set, by input name, as numpy.savez writes it) and, for models
// whose outputs are a single probability, .cache/corpus/<id>.feeds/NNN.npz: several sample sets in
// stream order, so a comparison has more than one number per output to compare. Every set is run through
// onnxruntime-node here and refused if an output comes out all zeros or constant.
//
//   node scripts/corpus/inputs.mjs [--large] [id ...]     (fetches what is missing first; exit 3 as fetch.mjs)
//
// Recipes: rendered text for the OCR models (a 5x7 bitmap font, dark on light paper, normalized as
// PaddleOCR does), real (synthetic) speech for the VAD models (fixtures/audio/speech-16k.wav: 16 kHz,
// sr=16000, the state carried chunk to chunk, sample sets every 6th chunk), the openWakeWord chain (audio -> melspectrogram ->
// embedding -> wake-word head, each fed the previous model's real output), and a photo-like picture
// for the 1024x1024 segmentation nets.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE, fetchModels, loadCorpus, modelPath, runScript, selectEntries } from './fetch.mjs';
import { drawText, textWidth } from './font.mjs';
import { writeNpz } from './npz.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// onnxruntime-node is a dependency of @shrink/core, not of the repository root.
const ort = createRequire(path.join(here, '../../packages/core/package.json'))('onnxruntime-node');

export const feedsPath = (id) => path.join(CACHE, `${id}.feeds.npz`);
export const samplesDir = (id) => path.join(CACHE, `${id}.feeds`);

const SPEECH = path.join(here, '../../fixtures/audio/speech-16k.wav');

const log = (msg) => process.stderr.write(`inputs: ${msg}\n`);

/** Mirrors core's mulberry32 (packages/core/src/data/rng.ts): a plain script cannot import TypeScript. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rng) {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

const f32 = (dims, data) => ({ dtype: 'float32', dims, data: data instanceof Float32Array ? data : Float32Array.from(data) });
const i64 = (dims, values) => ({ dtype: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) });
const zeros = (dims) => f32(dims, new Float32Array(dims.reduce((a, b) => a * b, 1)));

// ---- images -------------------------------------------------------------------------------------

/** Light paper (a gentle gradient) with dark lines of text, softened by a 3x3 blur and sensor noise. */
function paper(width, height, lines, scale, rng) {
  const img = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const base = 236 - 14 * (x / width) - 8 * (y / height);
      img.set([base + 4, base, base - 6], (y * width + x) * 3);
    }
  for (const { text, x, y } of lines) drawText(img, width, height, text, x, y, scale, [28, 30, 42]);
  const out = new Float32Array(img.length);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        let n = 0;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || xx < 0 || yy >= height || xx >= width) continue;
            s += img[(yy * width + xx) * 3 + c];
            n++;
          }
        out[(y * width + x) * 3 + c] = Math.min(255, Math.max(0, s / n + 3 * gaussian(rng)));
      }
  return out;
}

/** HWC 0..255 -> NCHW float32, (x/255 - mean[c]) / std[c]; columns from `valid` on are `pad` (already normalized). */
function toNchw(img, width, height, mean, std, valid = width, pad = 0) {
  const data = new Float32Array(3 * width * height);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        data[(c * height + y) * width + x] = x < valid ? (img[(y * width + x) * 3 + c] / 255 - mean[c]) / std[c] : pad;
  return f32([1, 3, height, width], data);
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const HALF = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/** A text line crop as PaddleOCR's recogniser and classifier see it: 48 high, right-padded with 0. */
function textLine(text, width, rng) {
  const scale = 4;
  const w = Math.min(width, textWidth(text, scale) + 16);
  const img = paper(width, 48, [{ text, x: 8, y: 10 }], scale, rng);
  return toNchw(img, width, 48, HALF.mean, HALF.std, w, 0);
}

/** A photo-like picture: sky and ground gradients, soft coloured blobs, a person-like silhouette, noise. */
function photo(size, rng) {
  const img = new Float32Array(size * size * 3);
  const blobs = Array.from({ length: 7 }, () => ({
    cx: rng() * size,
    cy: rng() * size,
    r: size * (0.05 + 0.12 * rng()),
    color: [rng() * 255, rng() * 255, rng() * 255],
  }));
  const soft = (d, r) => 1 / (1 + Math.exp((d - r) / (size * 0.01)));
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const t = y / size;
      let px = t < 0.6 ? [120 + 80 * t, 160 + 60 * t, 230 - 40 * t] : [90 - 30 * t, 120 - 40 * t, 60];
      for (const b of blobs) {
        const a = 0.8 * soft(Math.hypot(x - b.cx, y - b.cy), b.r);
        px = px.map((v, c) => v * (1 - a) + b.color[c] * a);
      }
      // Head and body: what a background remover is for.
      const head = soft(Math.hypot(x - size * 0.5, y - size * 0.32), size * 0.09);
      const body = soft(Math.hypot((x - size * 0.5) / 0.55, y - size * 0.72), size * 0.3);
      const person = Math.max(head, body);
      px = px.map((v, c) => v * (1 - person) + [205, 150, 120][c] * person * (0.85 + 0.15 * Math.sin(x / 9 + c)));
      for (let c = 0; c < 3; c++) img[(y * size + x) * 3 + c] = Math.min(255, Math.max(0, px[c] + 6 * gaussian(rng)));
    }
  return img;
}

// ---- audio --------------------------------------------------------------------------------------

/**
 * Voice-like audio at 16 kHz: a harmonic tone whose pitch glides (a chirp from 120 to 240 Hz),
 * syllable-rate loudness, a little noise. `amplitude` 1 is full scale.
 */
function voice(seconds, amplitude, rng) {
  const sr = 16000;
  const n = Math.round(seconds * sr);
  const out = new Float32Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / sr;
    const f0 = 120 + 120 * (t / seconds);
    phase += (2 * Math.PI * f0) / sr;
    let s = 0;
    for (let h = 1; h <= 8; h++) s += Math.sin(h * phase) / h;
    const env = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t);
    out[i] = amplitude * (0.35 * env * s + 0.02 * gaussian(rng));
  }
  return out;
}

/** fixtures/audio/speech-16k.wav as float samples in [-1, 1) (16 kHz mono int16 PCM; see make-speech.sh). */
function speech16k() {
  const buf = readFileSync(SPEECH);
  const text = (at, n) => buf.toString('latin1', at, at + n);
  if (text(0, 4) !== 'RIFF' || text(8, 4) !== 'WAVE') throw new Error(`${SPEECH}: not a WAV file`);
  // Walk the chunks to 'data' (the header's size is not fixed: a writer may add LIST and other chunks).
  for (let at = 12; at + 8 <= buf.length;) {
    const size = buf.readUInt32LE(at + 4);
    if (text(at, 4) === 'data') {
      const pcm = new Int16Array(size / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = buf.readInt16LE(at + 8 + 2 * i);
      return Float32Array.from(pcm, (v) => v / 32768);
    }
    at += 8 + size + (size % 2);
  }
  throw new Error(`${SPEECH}: no data chunk`);
}

async function run(session, feeds) {
  const t = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor(v.dtype, v.data, v.dims)]));
  const out = await session.run(t);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { dtype: v.type, dims: [...v.dims], data: v.data }]));
}

const sessions = new Map();
async function sessionOf(id) {
  if (!sessions.has(id)) sessions.set(id, await ort.InferenceSession.create(modelPath(id)));
  return sessions.get(id);
}

// ---- recipes --------------------------------------------------------------------------------------

// openWakeWord's frames: the melspectrogram's output scaled as its runtime does (x/10 + 2), windows of
// 76 frames every 8 frames for the embedding model, and the last N embeddings for a head.
async function owwChain(rng) {
  const audio = voice(5, 6000, rng); // int16 scale: openWakeWord feeds raw 16-bit sample values
  const mel = await run(await sessionOf('oww-melspectrogram'), { input: f32([1, audio.length], audio) });
  const m = Object.values(mel)[0];
  const frames = m.dims[2];
  const bins = m.dims[3];
  const scaled = Float32Array.from(m.data, (v) => v / 10 + 2);
  const windows = [];
  for (let s = 0; s + 76 <= frames; s += 8) windows.push(scaled.subarray(s * bins, (s + 76) * bins));
  const batch = new Float32Array(windows.length * 76 * bins);
  windows.forEach((w, i) => batch.set(w, i * 76 * bins));
  const emb = await run(await sessionOf('oww-embedding'), { input_1: f32([windows.length, 76, bins, 1], batch) });
  return { audio, windows, embeddings: Object.values(emb)[0].data, bins };
}

const RECIPES = {
  async 'ocr-det'(_session, rng) {
    const lines = [
      { text: 'INVOICE NO 20417', x: 18, y: 14 },
      { text: 'TOTAL: 38.50 EUR', x: 40, y: 64 },
      { text: 'PAID 2024-03-18', x: 24, y: 114 },
    ];
    return { feeds: { x: toNchw(paper(480, 160, lines, 4, rng), 480, 160, IMAGENET.mean, IMAGENET.std) } };
  },
  async 'ocr-rec'(_session, rng) {
    return { feeds: { x: textLine('SHRINK 2024 OK', 320, rng) } };
  },
  async 'ocr-cls'(_session, rng) {
    return { feeds: { x: textLine('HELLO 42', 192, rng) } };
  },
  async 'vad-16k'(session) {
    // Real speech (fixtures/audio/speech-16k.wav), streamed in 512-sample chunks with the state carried from
    // chunk to chunk. The state-tensor exports (silero v5 and later) are fed as their own wrappers feed them:
    // the chunk after the previous chunk's last 64 samples (576 in all); without that context the v6 and
    // PyTorch 2.x exports score speech as silence (p < 0.01 on every chunk).
    const audio = speech16k();
    const names = session.inputNames;
    const chunk = 512;
    const context = names.includes('h') ? 0 : 64;
    const stateDims = names.includes('h') ? [2, 1, 64] : [2, 1, 128];
    const feedsAt = (k, state) => {
      const window = new Float32Array(context + chunk);
      const from = k * chunk - context;
      window.set(audio.subarray(Math.max(0, from), (k + 1) * chunk), Math.max(0, -from));
      return {
        input: f32([1, context + chunk], window),
        ...(names.includes('sr') ? { sr: i64([], [16000]) } : {}),
        ...(names.includes('h') ? { h: state.h, c: state.c } : { state: state.state }),
      };
    };
    let state = names.includes('h') ? { h: zeros(stateDims), c: zeros(stateDims) } : { state: zeros(stateDims) };
    // Every 6th chunk of the 3.2 s: the silent start, speech, a pause and speech again, each with its real state.
    const samples = [];
    for (let k = 0; (k + 1) * chunk <= audio.length; k++) {
      const feeds = feedsAt(k, state);
      if (k % 6 === 0) samples.push(feeds);
      const out = await run(session, feeds);
      state = names.includes('h') ? { h: out.hn, c: out.cn } : { state: out.stateN };
    }
    return { feeds: samples[1], samples };
  },
  async 'oww-melspectrogram'(_session, rng) {
    const audio = voice(1, 6000, rng);
    return { feeds: { input: f32([1, audio.length], audio) } };
  },
  async 'oww-embedding'(_session, rng) {
    const { windows, bins } = await owwChain(rng);
    const pick = [0, 10, 20, 30].filter((i) => i < windows.length);
    const data = new Float32Array(pick.length * 76 * bins);
    pick.forEach((w, i) => data.set(windows[w], i * 76 * bins));
    return { feeds: { input_1: f32([pick.length, 76, bins, 1], data) } };
  },
  async 'oww-head'(session, rng) {
    const { embeddings } = await owwChain(rng);
    const n = embeddings.length / 96;
    const [name] = session.inputNames;
    // The head's window (16..34 embeddings) is fixed in its input shape.
    const width = session.inputMetadata[0].shape[1];
    if (!(width > 0) || width > n) throw new Error(`oww-head: window ${width} of ${n} embeddings`);
    const samples = [];
    for (let s = Math.max(0, n - width - 7); s + width <= n; s++)
      samples.push({ [name]: f32([1, width, 96], embeddings.slice(s * 96, (s + width) * 96)) });
    return { feeds: samples.at(-1), samples };
  },
  async 'segmentation-isnet'(_session, rng) {
    // @imgly/background-removal: the image resized to 1024x1024, (x - 128) / 256 per channel.
    const size = 1024;
    const img = photo(size, rng);
    const data = new Float32Array(3 * size * size);
    for (let c = 0; c < 3; c++) for (let i = 0; i < size * size; i++) data[c * size * size + i] = (img[i * 3 + c] - 128) / 256;
    return { feeds: { input: f32([1, 3, size, size], data) } };
  },
};

/** Throws when an output of `outs` is all zeros, constant, or not finite. */
function checkNonTrivial(id, outs, where) {
  for (const [name, o] of Object.entries(outs)) {
    let min = Infinity;
    let max = -Infinity;
    for (const x of o.data) {
      const v = Number(x);
      if (!Number.isFinite(v)) throw new Error(`${id}: output '${name}' is not finite on ${where}`);
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    if (o.data.length > 1 ? min === max : min === 0)
      throw new Error(
        `${id}: output '${name}' is ${o.data.length > 1 ? `constant (${min})` : 'zero'} on ${where}: the inputs do not exercise the model`,
      );
  }
}

/** Varies across the sample sets (each output); a single-number output that never moves says nothing. */
function checkVaries(id, outsList) {
  for (const name of Object.keys(outsList[0])) {
    const first = outsList[0][name].data;
    if (outsList.every((o) => o[name].data.every((v, i) => v === first[i])))
      throw new Error(`${id}: output '${name}' is the same on every sample set`);
  }
}

function upToDate(id) {
  const out = feedsPath(id);
  if (!existsSync(out)) return false;
  const t = statSync(out).mtimeMs;
  const inputs = [modelPath(id), SPEECH, ...['inputs.mjs', 'font.mjs', 'npz.mjs', 'corpus.json'].map((f) => path.join(here, f))];
  return inputs.every((f) => statSync(f).mtimeMs <= t);
}

/** Writes the feeds of each entry (its models fetched first); returns nothing, throws on a bad recipe. */
export async function makeInputs(entries) {
  const corpus = loadCorpus();
  const needs = new Set(entries.map((e) => e.id));
  // The openWakeWord chain feeds the embedding model and the heads from the earlier models' outputs.
  if (entries.some((e) => e.inputs === 'oww-embedding' || e.inputs === 'oww-head')) needs.add('oww-melspectrogram').add('oww-embedding');
  fetchModels(corpus.filter((e) => needs.has(e.id)));
  for (const e of entries) {
    if (upToDate(e.id)) {
      log(`${e.id}: ${path.relative(process.cwd(), feedsPath(e.id))} is up to date`);
      continue;
    }
    const recipe = RECIPES[e.inputs];
    if (!recipe) throw new Error(`${e.id}: no inputs recipe '${e.inputs}'; known: ${Object.keys(RECIPES).join(', ')}`);
    const session = await sessionOf(e.id);
    const rng = mulberry32(0x5eed + [...e.id].reduce((a, c) => a * 31 + c.charCodeAt(0), 7));
    const t0 = Date.now();
    const { feeds, samples } = await recipe(session, rng);
    checkNonTrivial(e.id, await run(session, feeds), 'the feeds');
    const dir = samplesDir(e.id);
    rmSync(dir, { recursive: true, force: true });
    if (samples) {
      const outs = [];
      for (const s of samples) outs.push(await run(session, s));
      checkVaries(e.id, outs);
      mkdirSync(dir, { recursive: true });
      samples.forEach((s, i) => writeNpz(path.join(dir, `${String(i).padStart(3, '0')}.npz`), s));
    }
    writeNpz(feedsPath(e.id), feeds);
    const shapes = Object.entries(feeds).map(([k, v]) => `${k} ${v.dtype}[${v.dims.join(',')}]`);
    log(
      `${e.id}: ${e.inputs}: ${shapes.join(', ')}${samples ? `; ${samples.length} sample sets in ${path.basename(dir)}/` : ''} (${Date.now() - t0} ms)`,
    );
  }
}

/** The sample-set files of an entry: its folder's .npz files when it has them, else the one feeds file. */
export function sampleFiles(id) {
  const dir = samplesDir(id);
  if (!existsSync(dir)) return [feedsPath(id)];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.npz'))
    .sort()
    .map((f) => path.join(dir, f));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await runScript(log, () => makeInputs(selectEntries(process.argv.slice(2))));

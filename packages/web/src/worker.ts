/**
 * The pass worker: opens the model, runs the chosen steps with the CLI's pass definitions (the same
 * objects the registry lists), and sends back the encoded result. The page terminates it to cancel, so
 * a pass never has to poll for it.
 */
import { prepareEncode, ShrinkError, targetContext, type Ctx, type LayerDetail, type onnx, type PassData } from '@shrink/core';
import { pageModelInfo } from './model-info.js';
import { openModel, type OpenedModel } from './open-model.js';
import { passOf } from './passes.js';
import type { FromWorker, StepDone, ToWorker } from './protocol.js';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

/**
 * The opened model, kept for the next run. Reading it again from the File for each run would hold less
 * between runs but more at the next run's peak: the old buffer is garbage V8 has not collected yet.
 */
let opened: OpenedModel | undefined;

/**
 * The model as one Blob, built from the encoding's pieces (large tensor bytes are the model's own arrays),
 * so no whole-model buffer is made here; the Blob is posted by handle, and its bytes live in the
 * browser's blob store, not in this worker or the page.
 */
function toBlob(model: onnx.IModelProto): { blob: Blob; byteLength: number } {
  const enc = prepareEncode(model);
  return { blob: new Blob([...enc.chunks()] as BlobPart[], { type: 'application/octet-stream' }), byteLength: enc.byteLength };
}

const ctx: Ctx = {
  progress: {
    start: (label, total) => post({ type: 'progress', label, done: 0, total }),
    tick: () => undefined,
    stop: () => undefined,
  },
};

/** The page has no datasets: passes that need one were refused by check() before running. */
const noData: PassData = { eval: async () => undefined, train: () => Promise.reject(new Error('no training data in the browser')) };

function message(e: unknown): string {
  if (e instanceof ShrinkError) return e.message;
  if (e instanceof Error) return `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`;
  return String(e);
}

async function run(steps: Extract<ToWorker, { type: 'run' }>['steps'], target: 'wasm' | 'webgpu'): Promise<void> {
  const input = opened;
  if (!input) throw new ShrinkError('INVALID_ARGUMENT', 'open a model first');
  const started = performance.now();
  const context = { data: noData, ctx: { ...ctx, target: targetContext(target) } };
  let model: onnx.ModelProto = input.model;
  const done: StepDone[] = [];
  const notes: string[] = [];
  let layers: LayerDetail[] = [];
  for (const [i, s] of steps.entries()) {
    const pass = passOf(s.kind);
    const parsed = pass.schema.safeParse(s.options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ShrinkError('INVALID_ARGUMENT', `step ${i + 1} (${s.kind}): ${issue.path.join('.') || 'options'}: ${issue.message}`);
    }
    const options = parsed.data as Record<string, unknown>;
    pass.check?.(options, { calibration: false, train: false, eval: false });
    post({
      type: 'progress',
      label: `step ${i + 1}/${steps.length}: ${pass.kind} ${pass.describe(options)}`,
      done: i,
      total: steps.length,
    });
    const t0 = performance.now();
    const out = await pass.run(model, options, context);
    model = out.model;
    layers = out.layers;
    notes.push(...out.notes);
    done.push({ kind: s.kind, options: s.options, seconds: (performance.now() - t0) / 1000, notes: out.notes });
  }
  const passSeconds = (performance.now() - started) / 1000;
  post({ type: 'progress', label: 'encoding', done: steps.length, total: steps.length });
  const output = toBlob(model);
  // Only a model read with its external data needs encoding whole for onnxruntime-web: else the .onnx is it.
  const baseline = input.external ? toBlob(input.model).blob : undefined;
  post({
    type: 'done',
    model: output.blob,
    ...(baseline ? { baseline } : {}),
    info: pageModelInfo(model, output.byteLength),
    steps: done,
    layers,
    notes,
    passSeconds,
    seconds: (performance.now() - started) / 1000,
  });
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  const work =
    m.type === 'open'
      ? openModel(m.model, m.data).then((o) => {
          opened = o;
          post({ type: 'opened', info: pageModelInfo(o.model, o.bytes) });
        })
      : run(m.steps, m.target);
  work.catch((e: unknown) => post({ type: 'error', message: message(e) }));
};

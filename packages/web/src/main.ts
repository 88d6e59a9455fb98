/**
 * The page: open a model (info), choose steps (forms generated from the passes' schemas), compress in the
 * pass worker with progress and Cancel, download the model, report JSON and shrink.config.yaml, and
 * measure both models in onnxruntime-web with the report drawn by core's renderHtml.
 */
import { formatValue, modelInfoRows, renderHtml, type Report } from '@shrink/core';
import { barChart } from '../../core/src/report/svg-charts.js';
import { createPassWorker, loadMeasure, loadTfjs } from './lazy.js';
import type { ModelInfo } from './model-info.js';
import { buildReport, configYaml, outputName, type RunRecord } from './outputs.js';
import { passOf, presets } from './passes.js';
import type { BrowserTarget, FromWorker, StepChoice, ToWorker } from './protocol.js';
import { formOptions, renderForm } from './schema-form.js';
import { CSS } from './style.js';

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the element type it looked up
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const style = document.createElement('style');
style.textContent = CSS;
document.head.append(style);

interface State {
  model?: File;
  data?: File | undefined;
  info?: ModelInfo;
  worker?: Worker;
  opened: boolean;
  run?: RunRecord;
  /** The compressed model: a Blob (the browser's blob store holds its bytes; read only for Measure). */
  output?: Blob;
  baseline?: Blob | undefined;
  report?: Report;
}
const state: State = { opened: false };
/** Rejects the request under way (Cancel terminated the worker that would have answered it). */
let cancelRun: (() => void) | undefined;
const urls: string[] = [];

function setStatus(el: HTMLElement, text: string, error = false): void {
  el.textContent = text;
  el.classList.toggle('error', error);
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The info table (core's modelInfoRows, the rows `shrink info` prints) and the bytes chart (core's barChart, as report.html draws its bars). */
function renderInfo(info: ModelInfo, title: string, id: string): string {
  const rows = modelInfoRows(info, { name: title });
  const table = `<table class="info">${rows.map((r) => `<tr><th>${esc(r.label)}</th><td>${esc(r.value).replace(/\n/g, '<br>')}</td></tr>`).join('')}</table>`;
  const bars = [
    ...Object.entries(info.bytesByDtype).map(([k, v]) => ({
      label: `all ${k}`,
      value: v,
      display: formatValue(v, 'bytes'),
      tone: 'baseline' as const,
    })),
    ...info.largest
      .slice(0, 8)
      .map((t) => ({ label: t.name, value: t.bytes, display: formatValue(t.bytes, 'bytes'), tone: 'candidate' as const })),
  ];
  const chart = barChart({
    id: `bytes-${id}`,
    title: 'Where the bytes are: stored tensors by dtype, and the largest tensors',
    valueLabel: 'bytes',
    categoryLabel: 'tensors',
    bars,
    tick: (v) => formatValue(v, 'bytes'),
    emptyText: 'no stored tensors',
  });
  return `${table}<div class="charts">${chart}</div>`;
}

// ---- the pass worker -------------------------------------------------------------------------------

function post(w: Worker, m: ToWorker): void {
  w.postMessage(m);
}

async function worker(): Promise<Worker> {
  if (state.worker) return state.worker;
  state.worker = await createPassWorker();
  state.opened = false;
  return state.worker;
}

/** One request to the worker: resolves on its answer, rejects on its error. */
function ask(w: Worker, m: ToWorker, onProgress?: (p: Extract<FromWorker, { type: 'progress' }>) => void): Promise<FromWorker> {
  return new Promise((resolve, reject) => {
    cancelRun = () => reject(new Error('cancelled'));
    w.onmessage = (ev: MessageEvent<FromWorker>) => {
      const r = ev.data;
      if (r.type === 'progress') onProgress?.(r);
      else if (r.type === 'error') reject(new Error(r.message));
      else resolve(r);
    };
    w.onerror = (ev) => {
      ev.preventDefault();
      reject(new Error(ev.message || 'the pass worker failed'));
    };
    post(w, m);
  });
}

async function ensureOpened(): Promise<Worker> {
  const w = await worker();
  if (!state.opened) {
    const r = await ask(w, { type: 'open', model: state.model!, data: state.data });
    if (r.type !== 'opened') throw new Error('unexpected answer from the pass worker');
    state.info = r.info;
    state.opened = true;
  }
  return w;
}

// ---- open ------------------------------------------------------------------------------------------

/** A dropped folder arrives as one empty File: its files (one level) are read through its entry. */
async function droppedFiles(dt: DataTransfer): Promise<File[]> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry());
  const dirs = entries.filter((e): e is FileSystemDirectoryEntry => e?.isDirectory === true);
  if (dirs.length === 0) return [...dt.files];
  const files: File[] = [];
  for (const d of dirs) {
    const children = await new Promise<FileSystemEntry[]>((resolve, reject) => d.createReader().readEntries(resolve, reject));
    for (const c of children) {
      if (c.isFile) files.push(await new Promise<File>((resolve, reject) => (c as FileSystemFileEntry).file(resolve, reject)));
    }
  }
  return [...files, ...[...dt.files].filter((f) => !dirs.some((d) => d.name === f.name))];
}

/** The converted .onnx of an opened tfjs folder, offered for download (kept apart from the run's links). */
let convertedUrl: string | undefined;

/** A tfjs folder's model.json and shards, converted in the page (tfjs loads now, as its own script). */
async function convertFolder(files: readonly File[], status: HTMLElement): Promise<File> {
  setStatus(status, 'converting the tfjs folder to ONNX (loading @tensorflow/tfjs)…');
  const tfjs = await loadTfjs();
  return tfjs.convertTfjsFolder(files);
}

const isModelJson = (f: File) => /(^|\/)model\.json$/i.test(f.webkitRelativePath || f.name);

async function open(files: readonly File[]): Promise<void> {
  const status = $('status');
  const onnxFile = files.find((f) => /\.onnx$/i.test(f.name));
  $('info').innerHTML = '';
  $('compress').hidden = true;
  $('result').hidden = true;
  $('measure').hidden = true;
  if (convertedUrl) URL.revokeObjectURL(convertedUrl);
  convertedUrl = undefined;
  const tfjsFolder = !onnxFile && files.some(isModelJson);
  if (!onnxFile && !tfjsFolder) {
    setStatus(
      status,
      `no .onnx file or tfjs model.json among ${files.map((f) => f.name).join(', ') || 'the files given'}: pick an ONNX model or a tfjs folder`,
      true,
    );
    return;
  }
  try {
    const model = onnxFile ?? (await convertFolder(files, status));
    state.model = model;
    state.data = onnxFile ? files.find((f) => f !== model) : undefined;
    state.opened = false;
    setStatus(status, `reading ${model.name} (${formatValue(model.size, 'bytes')})…`);
    await ensureOpened();
    setStatus(
      status,
      `opened ${model.name}${state.data ? ` with ${state.data.name}` : ''}${tfjsFolder ? ' (converted from the tfjs folder)' : ''}`,
    );
    let converted = '';
    if (tfjsFolder) {
      convertedUrl = URL.createObjectURL(model);
      converted = `<p class="meta">converted from tfjs by core's exportToOnnx, as <code>shrink convert</code> does: <a id="download-converted" href="${convertedUrl}" download="${esc(model.name)}">${esc(model.name)}</a></p>`;
    }
    $('info').innerHTML = converted + renderInfo(state.info!, model.name, 'input');
    $('compress').hidden = false;
  } catch (e) {
    setStatus(status, (e as Error).message, true);
  }
}

// ---- compress --------------------------------------------------------------------------------------

function setupSteps(): void {
  const steps = $('steps');
  const forms = $('forms');
  for (const p of presets()) {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = p.id;
    box.id = `step-${p.id}`;
    box.addEventListener('change', () => {
      const existing = forms.querySelector(`[data-preset="${p.id}"]`);
      if (!box.checked) existing?.remove();
      else if (!existing) {
        const form = renderForm(passOf(p.kind), p.options, p.id);
        form.dataset['preset'] = p.id;
        const h = document.createElement('h3');
        h.textContent = `${p.label} (${p.kind})`;
        form.prepend(h);
        // Steps run in the order of the buttons (a search's order): prune before quantize.
        const order = presets().map((x) => x.id);
        const after = [...forms.children].find((c) => order.indexOf((c as HTMLElement).dataset['preset']!) > order.indexOf(p.id));
        forms.insertBefore(form, after ?? null);
      }
    });
    label.append(box, ` ${p.label}`);
    steps.append(label);
  }
}

function chosenSteps(): StepChoice[] {
  return [...$('forms').querySelectorAll<HTMLElement>('.step-form')].map((f) => ({ kind: f.dataset['kind']!, options: formOptions(f) }));
}

async function detectWebGpu(): Promise<void> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return;
  try {
    if ((await gpu.requestAdapter()) !== null) $<HTMLSelectElement>('target').append(new Option('webgpu', 'webgpu'));
  } catch {
    // No adapter: wasm only.
  }
}

function stopWorker(): void {
  state.worker?.terminate();
  delete state.worker;
  state.opened = false;
}

async function compress(): Promise<void> {
  const progress = $('progress');
  const steps = chosenSteps();
  if (steps.length === 0) {
    setStatus(progress, 'choose at least one step', true);
    return;
  }
  const target = $<HTMLSelectElement>('target').value as BrowserTarget;
  $<HTMLButtonElement>('run').disabled = true;
  $<HTMLButtonElement>('cancel').disabled = false;
  $('result').hidden = true;
  $('measure').hidden = true;
  // The previous result's Blobs go now, not after this run: they would add to its peak.
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  delete state.output;
  delete state.baseline;
  setStatus(progress, 'starting…');
  try {
    const w = await ensureOpened();
    const r = await ask(w, { type: 'run', steps, target }, (p) =>
      setStatus(progress, `${p.label}${p.total !== undefined ? ` (${p.done}/${p.total})` : ''}`),
    );
    if (r.type !== 'done') throw new Error('unexpected answer from the pass worker');
    state.output = r.model;
    state.baseline = r.baseline;
    state.run = {
      input: state.model!.name,
      output: outputName(state.model!.name, steps),
      before: state.info!,
      after: r.info,
      steps: r.steps,
      layers: r.layers,
      notes: r.notes,
      target,
    };
    state.report = buildReport(state.run);
    setStatus(
      progress,
      `done in ${r.seconds.toFixed(2)} s: ${formatValue(state.info!.sizeBytes, 'bytes')} → ${formatValue(r.info.sizeBytes, 'bytes')}`,
    );
    // For the bench: the steps' own time, without encoding.
    progress.dataset['passSeconds'] = String(r.passSeconds);
    showResult();
  } catch (e) {
    if ((e as Error).message !== 'cancelled') setStatus(progress, (e as Error).message, true);
  } finally {
    $<HTMLButtonElement>('run').disabled = false;
    $<HTMLButtonElement>('cancel').disabled = true;
  }
}

function cancel(): void {
  stopWorker();
  setStatus($('progress'), 'cancelled: the model stays open, nothing was written');
  $<HTMLButtonElement>('run').disabled = false;
  $<HTMLButtonElement>('cancel').disabled = true;
  cancelRun?.();
}

// ---- download, measure, report ----------------------------------------------------------------------

function link(name: string, body: Blob, id: string): string {
  const url = URL.createObjectURL(body);
  urls.push(url);
  return `<a id="${id}" href="${url}" download="${esc(name)}">${esc(name)}</a>`;
}

function showResult(): void {
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  const run = state.run!;
  const guarded = (kind: string) => 'allowSlower' in passOf(kind).schema.shape;
  $('downloads').innerHTML = [
    link(run.output, state.output!, 'download-model'),
    link('report.json', new Blob([JSON.stringify(state.report, null, 2)], { type: 'application/json' }), 'download-report'),
    link('shrink.config.yaml', new Blob([configYaml(run.input, run.target, run.steps, guarded)], { type: 'text/yaml' }), 'download-config'),
  ].join('');
  $('after').innerHTML = `<details><summary>the compressed model</summary>${renderInfo(run.after, run.output, 'output')}</details>`;
  $('result').hidden = false;
  $('measure').hidden = false;
  showReport();
}

/** core's renderHtml, in a shadow root so its CSS stays its own. */
function showReport(): void {
  const host = $('report');
  const root = host.shadowRoot ?? host.attachShadow({ mode: 'open' });
  const doc = new DOMParser().parseFromString(renderHtml(state.report!), 'text/html');
  root.replaceChildren(...doc.head.querySelectorAll('style'), ...doc.body.childNodes);
}

async function measure(): Promise<void> {
  const status = $('measure-status');
  const btn = $<HTMLButtonElement>('measure-run');
  btn.disabled = true;
  try {
    setStatus(status, 'loading onnxruntime-web…');
    const { measure: m, wasm } = await loadMeasure();
    const feedsFile = $<HTMLInputElement>('feeds').files?.[0];
    // Read only now, from the Files and Blobs: the page holds no model bytes between Measures.
    const read = async (b: Blob) => new Uint8Array(await b.arrayBuffer());
    const r = await m.measurePair(await read(state.baseline ?? state.model!), await read(state.output!), {
      ...wasm,
      ...(feedsFile ? { feedsFile } : {}),
      onProgress: (label) => setStatus(status, `${label}…`),
    });
    state.report = buildReport(state.run!, r);
    const worst = Math.min(...Object.values(r.cosine));
    setStatus(
      status,
      `${r.runtime}: worst-output cosine ${worst.toFixed(5)}, latency ${r.ratio.toFixed(2)}x of the original (p50 of ${r.rounds} interleaved rounds) on ${r.samples}`,
    );
    showResult();
  } catch (e) {
    setStatus(status, (e as Error).message, true);
  } finally {
    btn.disabled = false;
  }
}

// ---- wiring ----------------------------------------------------------------------------------------

const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer) void droppedFiles(e.dataTransfer).then(open);
});
$<HTMLInputElement>('file').addEventListener('change', (e) => void open([...((e.target as HTMLInputElement).files ?? [])]));
$<HTMLInputElement>('folder').addEventListener('change', (e) => void open([...((e.target as HTMLInputElement).files ?? [])]));
$('run').addEventListener('click', () => void compress());
$('cancel').addEventListener('click', cancel);
$('measure-run').addEventListener('click', () => void measure());
setupSteps();
void detectWebGpu();
// Tests and the bench wait for this.
document.body.dataset['ready'] = '1';

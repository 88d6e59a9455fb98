// The browser app in Debian's chromium (playwright-core), served by `shrink serve`'s server: a real-world
// corpus model (.cache/corpus) opened, quantized q8 for wasm and downloaded; the download runs in
// onnxruntime-node at cosine >= 0.99 on every output and is byte-identical to `shrink quantize`; measured
// in onnxruntime-web with the report's charts drawn; Cancel mid-pass; bad files. Throughout: no console
// error and no request beyond the page's origin.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { pathToFileURL } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { cosine, decodeModel, modelInfoRows, type ModelInfo } from '@shrink/core';
import { loadModel, saveModel } from '@shrink/core/io';
import { createSession, syntheticFeedSet } from '@shrink/core/runtime';
import { serveSite, type SiteServer } from '../../cli/src/commands/serve.js';
import { configSchema } from '../../cli/src/pipeline/config-schema.js';
import { parseConfigText } from '../../cli/src/pipeline/load-config.js';
import { builtSite, CHROMIUM, WEB } from './site.fixture.js';
import { wideMlp } from './wide-mlp.fixture.js';

const ROOT = path.resolve(WEB, '../..');
const MODEL = path.join(ROOT, '.cache/corpus/oww-embedding.onnx');
// A trained tfjs LayersModel folder kept in the repository (model.json and one weight shard).
const TFJS_DIR = path.join(ROOT, 'packages/core/assets/trained/fashion-mlp');
const skip = !existsSync(CHROMIUM)
  ? `no ${CHROMIUM}; install Debian's chromium or set SHRINK_CHROMIUM to run the browser app's tests`
  : !existsSync(MODEL)
    ? `${MODEL} is missing (the real-world corpus: node scripts/corpus/inputs.mjs oww-embedding)`
    : false;

/** Every output of `candidate` at cosine >= 0.99 to `original`'s, in onnxruntime-node on 4 synthetic samples. */
async function assertCloseOnEveryOutput(original: Uint8Array, candidate: Uint8Array): Promise<void> {
  const a = await createSession(new Uint8Array(original));
  const b = await createSession(new Uint8Array(candidate));
  try {
    const set = syntheticFeedSet(a, decodeModel(new Uint8Array(original)), { count: 4 });
    for (const feeds of set.samples) {
      const oa = await a.run(feeds);
      const ob = await b.run(feeds);
      for (const name of a.outputNames) {
        const c = cosine(oa[name]!.data as Float32Array, ob[name]!.data as Float32Array);
        assert.ok(c >= 0.99, `${name}: cosine ${c}`);
      }
    }
  } finally {
    await a.release();
    await b.release();
  }
}

describe('the browser app in chromium', { skip, timeout: 170_000 }, () => {
  let dir: string;
  let server: SiteServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const offOrigin: string[] = [];
  const requested: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-web-'));
    server = await serveSite(builtSite(), 0);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    // blob: URLs the page made itself (the worker, downloads) are its own origin.
    const own = (u: string) => u.startsWith(`${server.origin}/`) || u.startsWith(`blob:${server.origin}/`) || u.startsWith('data:');
    page.on('request', (r) => {
      requested.push(r.url());
      if (!own(r.url())) offOrigin.push(r.url());
    });
    await page.route('**/*', (route) => (own(route.request().url()) ? route.continue() : route.abort()));
    await page.goto(`${server.origin}/`);
    await page.waitForSelector('body[data-ready="1"]');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const status = () => page.locator('#status');
  async function openFiles(files: string[]): Promise<{ text: string; error: boolean }> {
    await page.evaluate(() => {
      document.querySelector('#status')!.textContent = '';
    });
    await page.setInputFiles('#file', files);
    await page.waitForFunction(() => {
      const s = document.querySelector('#status')!;
      return s.classList.contains('error') || (s.textContent ?? '').startsWith('opened');
    });
    return { text: (await status().textContent()) ?? '', error: await status().evaluate((e) => e.classList.contains('error')) };
  }
  async function compress(preset: string): Promise<string> {
    await page.evaluate(() => {
      for (const b of document.querySelectorAll<HTMLInputElement>('#steps input')) if (b.checked) b.click();
    });
    await page.check(`#step-${preset}`);
    await page.click('#run');
    await page.waitForFunction(
      () => !document.querySelector<HTMLElement>('#result')!.hidden || document.querySelector('#progress')!.classList.contains('error'),
    );
    return (await page.textContent('#progress')) ?? '';
  }
  async function download(id: string, name: string): Promise<string> {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`#${id}`)]);
    assert.equal(dl.suggestedFilename(), name);
    const file = path.join(dir, name);
    await dl.saveAs(file);
    return file;
  }

  test('q8 for wasm: the download is `shrink quantize`, byte for byte, and runs at cosine >= 0.99 on every output', async () => {
    const opened = await openFiles([MODEL]);
    assert.equal(opened.error, false, opened.text);
    assert.match((await page.textContent('#info')) ?? '', /MACs/);
    // The info table is `shrink info`'s: the same rows from the CLI's --json (the page computes no gzip size).
    const shown = await page.$$eval('#info table.info tr', (trs) =>
      trs.map((tr) => ({ label: tr.querySelector('th')!.innerText, value: tr.querySelector('td')!.innerText })),
    );
    const info = spawnSync(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      ['--conditions=@shrink/source', path.join(ROOT, 'packages/cli/src/bin.ts'), 'info', MODEL, '--json'],
      { encoding: 'utf8', cwd: ROOT },
    );
    assert.equal(info.status, 0, info.stderr);
    const { gzipBytes: _gzip, ...cliInfo } = JSON.parse(info.stdout) as ModelInfo;
    assert.deepEqual(shown, modelInfoRows(cliInfo, { name: path.basename(MODEL) }));
    assert.match(await compress('q8'), /^done in/);
    const got = await download('download-model', 'model_quantized.onnx');

    // The CLI with the same options; --allow-slower because the page runs no per-node speed guard (its
    // fidelity floor, wasm's 0.99, keeps this model as it is: see the CLI's note).
    const cli = path.join(dir, 'cli-q8.onnx');
    const r = spawnSync(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      [
        '--conditions=@shrink/source',
        path.join(ROOT, 'packages/cli/src/bin.ts'),
        'quantize',
        MODEL,
        '--dtype',
        'q8',
        '--target',
        'wasm',
        '--allow-slower',
        '-o',
        cli,
        '--json',
      ],
      { encoding: 'utf8', cwd: ROOT },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok(
      readFileSync(got).equals(readFileSync(cli)),
      'the page and `shrink quantize --dtype q8 --target wasm --allow-slower` wrote different bytes',
    );

    await assertCloseOnEveryOutput(readFileSync(MODEL), readFileSync(got));

    // shrink.config.yaml reproduces the run: valid for the pipeline's config schema, with the same step.
    const yaml = readFileSync(await download('download-config', 'shrink.config.yaml'), 'utf8');
    const config = configSchema.parse(parseConfigText(yaml, 'shrink.config.yaml'));
    assert.equal(config.target, 'wasm');
    const step = config.steps?.[0] as { quantize?: Record<string, unknown> } | undefined;
    assert.equal(config.steps?.length, 1);
    assert.equal(step?.quantize?.['dtype'], 'q8');
    assert.equal(step?.quantize?.['allowSlower'], true);
    const report = JSON.parse(readFileSync(await download('download-report', 'report.json'), 'utf8'));
    assert.equal(report.schema, 'shrink.report/v1');
    assert.equal(report.candidates[0].name, 'model_quantized.onnx');
  });

  test('measure in onnxruntime-web: every output compared, the report charts drawn (a non-trivial screenshot)', async () => {
    // onnxruntime-web and its wasm, and tfjs, load when first needed, not before: the first load is app.js alone.
    assert.deepEqual(
      requested.filter((u) => /\/ort\/|measure\.js|tfjs\.js/.test(u)),
      [],
    );
    const app = statSync(path.join(builtSite(), 'assets/app.js')).size;
    assert.ok(app <= 1.5e6, `first-load JS is ${app} bytes`);
    await page.click('#measure-run');
    await page.waitForFunction(() => {
      const s = document.querySelector('#measure-status')!;
      return s.classList.contains('error') || (s.textContent ?? '').includes('cosine');
    });
    const text = (await page.textContent('#measure-status')) ?? '';
    const cos = Number(/cosine ([\d.]+)/.exec(text)?.[1]);
    assert.ok(cos >= 0.99, text);
    const charts = await page.$$eval('#report svg.chart-svg', (svgs) => svgs.map((s) => s.querySelectorAll('rect, circle, path').length));
    assert.ok(charts.length >= 2 && charts.every((n) => n > 0), `charts: ${charts.join(', ')}`);
    const png = await page.locator('#report').screenshot();
    const colours = await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, img.width, img.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length && seen.size < 500; i += 4 * 5) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
      return seen.size;
    }, png.toString('base64'));
    assert.ok(colours > 20, `only ${colours} colours in the report's screenshot`);
  });

  test('Cancel mid-pass stops the worker; the page stays usable', async () => {
    const big = path.join(dir, 'wide.onnx');
    writeFileSync(big, wideMlp(2048, 6));
    assert.equal((await openFiles([big])).error, false);
    await page.evaluate(() => {
      for (const b of document.querySelectorAll<HTMLInputElement>('#steps input')) if (b.checked) b.click();
    });
    await page.check('#step-q4');
    // Cancel from the page on the first progress message of the pass, not after a round trip to the test:
    // on a fast machine the pass could end in between.
    await page.evaluate(() => {
      const p = document.querySelector('#progress')!;
      const o = new MutationObserver(() => {
        if (!(p.textContent ?? '').includes('quantize')) return;
        o.disconnect();
        document.querySelector<HTMLButtonElement>('#cancel')!.click();
      });
      o.observe(p, { childList: true, characterData: true, subtree: true });
    });
    await page.click('#run');
    await page.waitForFunction(() => (document.querySelector('#progress')!.textContent ?? '').includes('cancelled'));
    assert.equal(await page.isHidden('#result'), true);
    assert.equal(await page.isEnabled('#run'), true);
    // Usable: the same model again, to the end, with a fresh worker.
    assert.match(await compress('q8'), /^done in/);
  });

  test('bad files: truncated, not ONNX, over 2 GB without external data: one clear line each, and the page keeps working', async () => {
    const truncated = path.join(dir, 'truncated.onnx');
    writeFileSync(truncated, readFileSync(MODEL).subarray(0, 50_000));
    const text = path.join(dir, 'notes.onnx');
    writeFileSync(text, 'this is not a model\n'.repeat(100));
    const huge = path.join(dir, 'huge.onnx');
    const fd = openSync(huge, 'w');
    ftruncateSync(fd, 2 ** 31 + 4096); // sparse: no disk used
    closeSync(fd);
    for (const [file, want] of [
      [truncated, /truncated|not an ONNX|invalid|ends/i],
      [text, /not an ONNX|invalid/i],
      [huge, /2 GiB/],
    ] as const) {
      const r = await openFiles([file]);
      assert.equal(r.error, true, `${path.basename(file)}: ${r.text}`);
      assert.match(r.text, want);
      assert.equal(r.text.split('\n').length, 1);
    }
    const ok = await openFiles([MODEL]);
    assert.equal(ok.error, false, ok.text);
  });

  test('a tfjs folder: converted in the page as `shrink convert` does (byte for byte), then q8 at cosine >= 0.99 on every output', async () => {
    // Node's float export: the CLI's convert of the same folder.
    const cli = path.join(dir, 'cli-fashion.onnx');
    const r = spawnSync(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      ['--conditions=@shrink/source', path.join(ROOT, 'packages/cli/src/bin.ts'), 'convert', TFJS_DIR, '-o', cli, '--json'],
      { encoding: 'utf8', cwd: ROOT },
    );
    assert.equal(r.status, 0, r.stderr);

    // Picked as a folder (webkitdirectory): model.json, its shard, and a file tfjs does not read (trained.json).
    await page.evaluate(() => {
      document.querySelector('#status')!.textContent = '';
    });
    await page.setInputFiles('#folder', TFJS_DIR);
    await page.waitForFunction(() => {
      const s = document.querySelector('#status')!;
      return s.classList.contains('error') || (s.textContent ?? '').startsWith('opened');
    });
    const text = (await status().textContent()) ?? '';
    assert.equal(await status().evaluate((e) => e.classList.contains('error')), false, text);
    assert.match(text, /^opened fashion-mlp\.onnx \(converted from the tfjs folder\)$/);
    assert.match((await page.textContent('#info')) ?? '', /MACs/);
    const converted = await download('download-converted', 'fashion-mlp.onnx');
    assert.ok(readFileSync(converted).equals(readFileSync(cli)), 'the page and `shrink convert` wrote different ONNX for the tfjs folder');

    assert.match(await compress('q8'), /^done in/);
    const got = await download('download-model', 'model_quantized.onnx');
    await assertCloseOnEveryOutput(readFileSync(cli), readFileSync(got));

    // The same folder as picked files (model.json + shards, no folder path): opened as model.onnx.
    const files = await openFiles([path.join(TFJS_DIR, 'model.json'), path.join(TFJS_DIR, 'group1-shard1of1.bin')]);
    assert.equal(files.error, false, files.text);
    assert.match(files.text, /^opened model\.onnx/);
    // A model.json without its shard: one line naming the missing file.
    const alone = await openFiles([path.join(TFJS_DIR, 'model.json')]);
    assert.equal(alone.error, true, alone.text);
    assert.match(alone.text, /group1-shard1of1\.bin/);
    assert.equal(alone.text.split('\n').length, 1);
  });

  test('external data: read with File.slice beside its .onnx; the .onnx alone names the file it needs', async () => {
    mkdirSync(path.join(dir, 'ext'));
    const out = path.join(dir, 'ext', 'model.onnx');
    const saved = await saveModel(await loadModel(MODEL), out, { externalData: true });
    assert.ok(saved.externalDataPath);
    const alone = await openFiles([out]);
    assert.equal(alone.error, true);
    assert.match(alone.text, /model\.onnx_data/);
    const both = await openFiles([out, saved.externalDataPath]);
    assert.equal(both.error, false, both.text);
    assert.match((await page.textContent('#info')) ?? '', /328 k/);
  });

  test('from file:// (the built site opened as a file): open, q8, measure', async () => {
    const p = await browser.newPage();
    const fileErrors: string[] = [];
    p.on('console', (m) => {
      if (m.type() === 'error') fileErrors.push(m.text());
    });
    p.on('pageerror', (e) => fileErrors.push(e.message));
    p.on('request', (r) => {
      if (!/^(file|blob|data):/.test(r.url())) offOrigin.push(r.url());
    });
    await p.goto(pathToFileURL(path.join(builtSite(), 'index.html')).href);
    await p.waitForSelector('body[data-ready="1"]');
    await p.setInputFiles('#file', MODEL);
    await p.waitForFunction(() => (document.querySelector('#status')!.textContent ?? '').startsWith('opened'));
    await p.check('#step-q8');
    await p.click('#run');
    await p.waitForFunction(() => !document.querySelector<HTMLElement>('#result')!.hidden);
    await p.click('#measure-run');
    await p.waitForFunction(() => {
      const s = document.querySelector('#measure-status')!;
      return s.classList.contains('error') || (s.textContent ?? '').includes('cosine');
    });
    assert.match((await p.textContent('#measure-status')) ?? '', /cosine 0\.99/);
    assert.deepEqual(fileErrors, []);
    await p.close();
  });

  test('no console errors and no request beyond the page origin', () => {
    assert.deepEqual(errors, []);
    assert.deepEqual(offOrigin, []);
  });
});

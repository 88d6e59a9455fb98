/**
 * `pnpm bench web`: issue #16's goals. q8 of a ~100 MB float32 MLP (core's builder, 4 MatMul layers of
 * 2560x2560, seeded weights) in the browser app (built site, Debian's chromium, the pass worker) against
 * the same pass in Node (quantizePass.run with the wasm target, as `shrink quantize --target wasm` runs it
 * before measuring), in interleaved rounds; the renderer's peak RSS while the page opens and compresses
 * it (sampled from /proc every 50 ms over Chromium's renderer processes); the site's first-load JS.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { serveSite } from '../packages/cli/src/commands/serve.js';
import { quantizePass } from '../packages/quantize/src/pass.js';
import { builtSite, CHROMIUM, launchChromium } from '../packages/web/src/site.fixture.js';
import { wideMlp } from '../packages/web/src/wide-mlp.fixture.js';
import { decodeModel, encodeModel, parseOptions, targetContext } from './core.js';
import { fmtBytes, mdTable, nowMs, settleAndCollect, type Bench, type BenchContext } from './lib.js';

const WIDTH = 2560;
const LAYERS = 4;
const ROUNDS = 3;

/** RSS of every Chromium renderer process (the page and its workers run there), summed. */
function rendererRss(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('--type=renderer')) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // The process ended while being read.
    }
  }
  return total;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export const webBench: Bench = {
  name: 'web',
  title: 'Browser app (issue #16): q8 of a ~100 MB model in the page vs the CLI pass, peak memory, first-load JS',
  inDefaultSet: false,
  async run(ctx: BenchContext): Promise<string> {
    if (!existsSync(CHROMIUM)) return `Skipped: no Chromium at ${CHROMIUM}.`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-web-bench-'));
    const file = path.join(dir, 'wide-mlp.onnx');
    const bytes = wideMlp(WIDTH, LAYERS);
    writeFileSync(file, bytes);
    ctx.log(`web: ${fmtBytes(bytes.length)} MLP; building the site`);
    const dist = builtSite();
    const server = await serveSite(dist, 0);
    const browser = await launchChromium();
    const options = parseOptions(quantizePass.schema, { dtype: 'q8' }, 'quantize');
    const nodeCtx = {
      data: { eval: async () => undefined, train: () => Promise.reject(new Error('none')) },
      ctx: { target: targetContext('wasm') },
    };
    const browserS: number[] = [];
    const browserTotalS: number[] = [];
    const nodeS: number[] = [];
    let peak = 0;
    let firstPeak = 0;
    let openPeak: number;
    let opened: number;
    let idle: number;
    try {
      // The page's CSP forbids eval; the bench's string predicates (bench/ has no DOM types) are evaluated in the page.
      const page = await browser.newPage({ bypassCSP: true });
      await page.goto(`${server.origin}/`);
      await page.waitForSelector('body[data-ready="1"]');
      idle = rendererRss();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, rendererRss());
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await page.setInputFiles('#file', file);
      await page.waitForFunction("(document.querySelector('#status').textContent || '').startsWith('opened')", undefined, {
        timeout: 120_000,
      });
      openPeak = peak;
      await new Promise((r) => setTimeout(r, 1000));
      opened = rendererRss();
      peak = 0;
      await page.check('#step-q8');
      for (let r = 0; r < ROUNDS; r++) {
        // Interleaved: the browser first on even rounds, Node first on odd ones.
        const order = r % 2 === 0 ? ['browser', 'node'] : ['node', 'browser'];
        for (const side of order) {
          if (side === 'browser') {
            await page.evaluate("document.querySelector('#progress').dataset.passSeconds = ''");
            await page.click('#run');
            await page
              .waitForFunction("!!document.querySelector('#progress').dataset.passSeconds", undefined, { timeout: 120_000 })
              .catch(async (e: unknown) => {
                throw new Error(`the page did not finish: ${(await page.textContent('#progress')) ?? ''} (${String(e)})`);
              });
            browserS.push(Number(await page.evaluate("document.querySelector('#progress').dataset.passSeconds")));
            browserTotalS.push(Number(/done in ([\d.]+) s/.exec((await page.textContent('#progress')) ?? '')?.[1]));
            if (browserS.length === 1) firstPeak = peak;
          } else {
            await settleAndCollect();
            const model = decodeModel(new Uint8Array(readFileSync(file)), file);
            const t0 = nowMs();
            const out = await quantizePass.run(model, options, nodeCtx);
            nodeS.push((nowMs() - t0) / 1000);
            encodeModel(out.model);
          }
          ctx.log(`web: round ${r + 1} ${side} done`);
        }
      }
      sampling = false;
      await sampler;
    } finally {
      await browser.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const app = readFileSync(path.join(dist, 'assets/app.js'));
    const lazy = ['assets/worker-source.js', 'assets/measure.js', 'ort/ort-wasm-simd-threaded.wasm'].map(
      (f) => [f, statSync(path.join(dist, f)).size] as const,
    );
    const b = median(browserS);
    const n = median(nodeS);
    return [
      `Model: a float32 MLP made with core's builder, ${LAYERS} MatMul layers of ${WIDTH}x${WIDTH}, ${fmtBytes(bytes.length)} (\`.onnx\`, no external data). q8 for \`wasm\` (dynamic int8), ${ROUNDS} interleaved rounds; medians.`,
      '',
      mdTable(
        ['', 'seconds (median)', 'rounds'],
        [
          ['browser: the pass in the worker (quantizePass.run)', b.toFixed(2), browserS.map((x) => x.toFixed(2)).join(', ')],
          ['browser: pass + encoding the output', median(browserTotalS).toFixed(2), browserTotalS.map((x) => x.toFixed(2)).join(', ')],
          ['Node: the same pass (quantizePass.run, target wasm)', n.toFixed(2), nodeS.map((x) => x.toFixed(2)).join(', ')],
          ['ratio browser / Node (pass)', `${(b / n).toFixed(2)}x`, 'goal <= 2x'],
        ],
        [false, true, false],
      ),
      '',
      mdTable(
        ['memory', 'bytes', 'x model'],
        [
          ['renderer RSS, page loaded (idle)', fmtBytes(idle), (idle / bytes.length).toFixed(2)],
          ['renderer RSS peak while opening', fmtBytes(openPeak), (openPeak / bytes.length).toFixed(2)],
          ['renderer RSS 1 s after opening', fmtBytes(opened), (opened / bytes.length).toFixed(2)],
          ['renderer RSS peak while compressing, first round', fmtBytes(firstPeak), (firstPeak / bytes.length).toFixed(2)],
          ['renderer RSS peak while compressing (3 rounds)', fmtBytes(peak), (peak / bytes.length).toFixed(2)],
          [
            'peak growth over idle',
            fmtBytes(Math.max(peak, openPeak) - idle),
            `${((Math.max(peak, openPeak) - idle) / bytes.length).toFixed(2)} (goal <= 2.5)`,
          ],
        ],
        [false, true, true],
      ),
      '',
      `First-load JS: \`assets/app.js\` ${fmtBytes(app.length)} (gzip ${fmtBytes(gzipSync(app, { level: 9 }).length)}; goal <= 1.5 MB). Loaded later, when first needed: ${lazy.map(([f, s]) => `\`${f}\` ${fmtBytes(s)}`).join(', ')}.`,
      '',
      "Peak memory is the sum of VmRSS over Chromium's renderer processes (the page and its worker run in one), sampled every 50 ms from /proc while the model is opened and compressed three times; it includes the page itself (the idle row). The worker holds the .onnx bytes (the decoded tensors are views on them, moved onto aligned offsets in place) and the pass's output; the encoded output is a Blob built from the encoding's pieces and posted to the page by handle, so its bytes sit in the browser process's blob store, which these rows do not count (the q8 output, 0.25x the model).",
    ].join('\n');
  },
};

// The HTML report in a real browser (Debian's chromium driven by playwright-core): it loads with no errors
// and no requests beyond the file itself, and every chart is actually drawn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { renderHtml } from './html.js';
import { fullReport } from './report.fixture.js';

// SHRINK_CHROMIUM points at another chromium build (another distribution's path).
const CHROMIUM = process.env['SHRINK_CHROMIUM'] ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `no ${CHROMIUM}; install it with \`apt-get install chromium\` (Debian) or set SHRINK_CHROMIUM to run the browser test of the HTML report`;

test(
  'the HTML report renders in chromium: no errors, no network, every chart drawn, a real screenshot',
  { skip, timeout: 120_000 },
  async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'shrink-html-'));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const file = path.join(dir, 'report.html');
      await writeFile(file, renderHtml(fullReport()));
      const url = pathToFileURL(file).href;

      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') errors.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      // Anything but the file itself is refused (and recorded above), so a stray reference cannot pass by loading.
      await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
      await page.goto(url, { waitUntil: 'load' });

      assert.deepEqual(errors, []);
      assert.deepEqual(requests, [url]);

      const charts = await page.$$eval('svg.chart-svg', (svgs) =>
        svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          const fig = svg.closest('figure');
          return {
            id: fig?.id ?? '',
            width: box.width,
            height: box.height,
            shapes: svg.querySelectorAll('rect, circle, path').length,
            title: svg.querySelector('title')?.textContent ?? '',
          };
        }),
      );
      assert.deepEqual(charts.map((c) => c.id).sort(), [
        'bars-accuracy',
        'bars-co2e',
        'bars-energy',
        'bars-latency',
        'bars-size',
        'layers-sparsity-0',
        'layers-sqnr-0',
        'scatter-0',
        'scatter-1',
      ]);
      for (const c of charts) {
        assert.ok(c.width > 100 && c.height > 50, `${c.id} is ${c.width}x${c.height}`);
        assert.ok(c.shapes > 0, `${c.id} draws no shapes`);
        assert.ok(c.title.length > 0, `${c.id} has no <title>`);
      }
      // Bars have a visible size, and points sit inside their plot.
      const bars = await page.$$eval('g.bar rect', (rs) => rs.map((r) => r.getBoundingClientRect()).map((b) => b.width * b.height));
      assert.ok(bars.length >= 10 && bars.every((a) => a > 0), `bar areas ${bars.join(', ')}`);
      const outside = await page.$$eval('svg.chart-svg', (svgs) =>
        svgs.flatMap((svg) => {
          const plot = svg.querySelector('rect.plot')?.getBoundingClientRect();
          if (!plot) return [];
          return [...svg.querySelectorAll('g.pt circle')]
            .map((c) => c.getBoundingClientRect())
            .filter(
              (b) =>
                b.x + b.width / 2 < plot.left - 1 ||
                b.x + b.width / 2 > plot.right + 1 ||
                b.y + b.height / 2 < plot.top - 1 ||
                b.y + b.height / 2 > plot.bottom + 1,
            )
            .map((b) => `${b.x},${b.y}`);
        }),
      );
      assert.deepEqual(outside, []);

      const png = await page.screenshot({ fullPage: true });
      assert.ok(png.length > 50_000, `screenshot is only ${png.length} bytes`);
      // Decode in a blank page (no CSP there) and count colours: a blank or single-colour page would have one.
      const blank = await browser.newPage();
      const colours = await blank.evaluate(async (b64) => {
        // Core type-checks without the DOM library (its portable code must not lean on it); the few browser APIs used here:
        const dom = globalThis as unknown as {
          Image: new () => { src: string; width: number; height: number; decode(): Promise<void> };
          document: {
            createElement(tag: 'canvas'): {
              width: number;
              height: number;
              getContext(k: '2d'): {
                drawImage(i: unknown, x: number, y: number): void;
                getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
              } | null;
            };
          };
        };
        const img = new dom.Image();
        img.src = `data:image/png;base64,${b64}`;
        await img.decode();
        const canvas = dom.document.createElement('canvas');
        canvas.width = img.width;
        canvas.height = img.height;
        const g = canvas.getContext('2d')!;
        g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, img.width, img.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < d.length && seen.size < 1000; i += 4 * 7) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
        return { n: seen.size, width: img.width, height: img.height };
      }, png.toString('base64'));
      assert.ok(colours.width === 1100 && colours.height > 2000, `screenshot ${colours.width}x${colours.height}`);
      assert.ok(colours.n > 20, `only ${colours.n} colours in the screenshot`);
    } finally {
      await browser.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

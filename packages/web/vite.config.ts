/**
 * The page (`pnpm web`: dev server; `pnpm build`: static site in dist/). The built site is classic
 * scripts, so it runs from file:// too (Chrome loads no module script, module worker or fetch there):
 *   assets/app.js            the page (first load)
 *   assets/worker-source.js  the pass worker's code as a string, started from a blob: URL when first needed
 *   assets/measure.js        onnxruntime-web and the measurement, loaded when first measuring
 *   assets/tfjs.js           @tensorflow/tfjs and the tfjs folder conversion, loaded when a folder is opened
 *   ort/*.wasm               onnxruntime-web's wasm (fetched over http; from file:// read from ort-wasm-binary.js)
 * Workspace packages resolve to their sources (@shrink/source), and the passes' run path gets browser
 * stand-ins for its Node-only imports (src/shims/): the pass definitions themselves are the CLI's.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, defaultClientConditions, defineConfig, type Plugin, type UserConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const shim = (f: string) => path.join(here, 'src/shims', f);
const ortDist = path.join(here, 'node_modules/onnxruntime-web/dist');
const ORT_WASM = 'ort-wasm-simd-threaded.wasm';

/** Node-only imports on the passes' run path, swapped for browser stand-ins. */
function browserRunPath(): Plugin {
  const byImporter: ReadonlyArray<readonly [string, string, string]> = [
    ['./runtime/index.js', path.join('quantize', 'src', 'pass.ts'), 'quantize-runtime.ts'],
    ['./gradual.js', path.join('prune', 'src', 'runtime', 'prune-model.ts'), 'prune-gradual.ts'],
  ];
  return {
    name: 'shrink-browser-run-path',
    enforce: 'pre',
    resolveId(source, importer) {
      if (source === '@shrink/core/runtime') return shim('core-runtime.ts');
      if (source === '@shrink/core/data') return shim('core-data.ts');
      if (source === '@shrink/core/tfjs') return shim('core-tfjs.ts');
      if (source === 'node:path' || source === 'path') return shim('node-path.ts');
      for (const [spec, from, to] of byImporter) if (source === spec && importer?.endsWith(from)) return shim(to);
      return null;
    },
    // onnxruntime-web's default location of its .wasm would make vite inline 14 MB into the bundle; the page
    // always gives wasmPaths or wasmBinary (lazy.ts), so that fallback points at the page instead.
    transform(code, id) {
      if (!id.includes('onnxruntime-web/dist/')) return null;
      return {
        code: code.replaceAll(
          'new URL("ort-wasm-simd-threaded.wasm",import.meta.url)',
          'new URL("ort-wasm-simd-threaded.wasm",self.location.href)',
        ),
        map: null,
      };
    },
  };
}

const shared = (): UserConfig => ({
  root: here,
  base: './',
  logLevel: 'warn',
  resolve: { conditions: ['@shrink/source', ...defaultClientConditions] },
  plugins: [browserRunPath()],
});

/** One classic-script bundle (iife) of `entry`; its code, not written. */
async function iife(entry: string, name: string): Promise<string> {
  const out = await build({
    ...shared(),
    configFile: false,
    // The iife bundles have no import.meta; onnxruntime-web's uses of it fall back as in browserRunPath.
    define: { 'import.meta.url': 'undefined' },
    build: {
      write: false,
      minify: true,
      lib: { entry: path.join(here, entry), formats: ['iife'], name, fileName: () => `${name}.js` },
    },
  });
  const first = (Array.isArray(out) ? out[0] : out) as { output: Array<{ type: string; code?: string }> };
  const chunk = first.output.find((o) => o.type === 'chunk');
  if (!chunk?.code) throw new Error(`no code built for ${entry}`);
  return chunk.code;
}

/** After the page's build: the worker, the measurement bundle, onnxruntime-web's wasm, index.html. */
function siteFiles(): Plugin {
  return {
    name: 'shrink-site-files',
    apply: 'build',
    async closeBundle() {
      const dist = path.join(here, 'dist');
      await mkdir(path.join(dist, 'assets'), { recursive: true });
      await mkdir(path.join(dist, 'ort'), { recursive: true });
      const worker = await iife('src/worker.ts', 'shrinkWorker');
      await writeFile(path.join(dist, 'assets/worker-source.js'), `globalThis.shrinkWorkerSource=${JSON.stringify(worker)};\n`);
      await writeFile(path.join(dist, 'assets/tfjs.js'), await iife('src/tfjs-entry.ts', 'shrinkTfjsBundle'));
      // measure.js last: site.fixture.ts rebuilds when it is older than the sources.
      await writeFile(path.join(dist, 'assets/measure.js'), await iife('src/measure/entry.ts', 'shrinkMeasureBundle'));
      await copyFile(path.join(ortDist, ORT_WASM), path.join(dist, 'ort', ORT_WASM));
      const wasm = await readFile(path.join(ortDist, ORT_WASM));
      await writeFile(path.join(dist, 'ort/ort-wasm-binary.js'), `globalThis.shrinkOrtWasm="${wasm.toString('base64')}";\n`);
      const html = (await readFile(path.join(here, 'index.html'), 'utf8')).replace(
        '<script type="module" src="./src/main.ts"></script>',
        '<script defer src="./assets/app.js"></script>',
      );
      await writeFile(path.join(dist, 'index.html'), html);
    },
  };
}

/** `vite` (dev): the lazy loaders as modules. */
function devLoaders(): Plugin {
  return {
    name: 'shrink-dev-loaders',
    apply: 'serve',
    enforce: 'pre',
    resolveId(source, importer) {
      if (source === './lazy.js' && importer?.endsWith(path.join('src', 'main.ts'))) return path.join(here, 'src/lazy-dev.ts');
      return null;
    },
  };
}

export default defineConfig({
  ...shared(),
  logLevel: 'info',
  plugins: [browserRunPath(), devLoaders(), siteFiles()],
  server: { host: '127.0.0.1', fs: { allow: [path.join(here, '../..')] } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    minify: true,
    lib: { entry: path.join(here, 'src/main.ts'), formats: ['iife'], name: 'shrinkApp', fileName: () => 'assets/app.js' },
  },
});

// The `shrink` command as shipped: the CLI's sources bundled by esbuild into dist/shrink/ (or the folder
// after --outdir), one file per entry plus shared chunks that each command loads when it runs.
// Build pipelines call the CLI many times, and a cold start is mostly Node resolving and compiling
// modules (zod alone is ~100 files, most of them locales nothing uses); a bundle resolves once and leaves
// unused code out. Kept outside: packages with native binaries or .wasm files found beside their own
// modules, and packages only some runs load (mathjs for gates, tsx for running from sources).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const EXTERNAL = [
  'onnxruntime-node',
  'onnxruntime-web',
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  'mathjs',
  'playwright-core',
  'tsx',
];
const at = process.argv.indexOf('--outdir');
const outdir = at > 0 ? path.resolve(process.argv[at + 1]) : path.join(here, 'dist/shrink');

// Chunk names are content hashes: chunks of an earlier build would pile up beside the new ones.
rmSync(outdir, { recursive: true, force: true });
// zod's root re-exports every locale as a namespace (`z.locales`), which no bundler can leave out; Shrink
// speaks English only (zod's default, imported by zod itself from en.js), so the bundle's locale index holds
// just that one: ~40 % of zod less to compile at every start.
const englishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: "export { default as en } from './en.js';\n",
      resolveDir: path.dirname(args.path),
    }));
  },
};

await build({
  // trial-worker.js is a Worker's entry: it sits beside the chunk that starts it, as in dist/pipeline/.
  entryPoints: { bin: path.join(here, 'src/bin.ts'), 'trial-worker': path.join(here, 'src/pipeline/trial-worker.ts') },
  outdir,
  // The workspace packages' sources, as the tests run them.
  conditions: ['@shrink/source'],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // CommonJS packages inside an ESM bundle still call require().
  banner: { js: "import { createRequire as __shrinkRequire } from 'node:module';\nconst require = __shrinkRequire(import.meta.url);" },
  // Less to parse at every start; names kept for error classes, and `NODE_OPTIONS=--enable-source-maps`
  // maps --verbose stack traces back to the sources.
  minify: true,
  keepNames: true,
  sourcemap: true,
  plugins: [englishOnly],
  logLevel: 'warning',
});

// The root entry of @shrink/core is what passes import; it must load in a browser (no Node built-ins,
// no onnxruntime-node, no tfjs, nothing that reaches for process or the file system).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// Subpath imports (#gzip) have a Node file and a portable one: a browser gets the `default` condition.
const IMPORTS = (
  JSON.parse(readFileSync(path.join(here, '../package.json'), 'utf8')) as {
    imports: Record<string, { '@shrink/source': { default: string } }>;
  }
).imports;
const ALLOWED = new Set(['zod', 'onnx-proto', 'protobufjs/minimal.js', 'fflate', 'long']);
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function reachable(entry: string): { files: string[]; bare: Map<string, string> } {
  const seen = new Set<string>();
  const bare = new Map<string, string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith('.')) stack.push(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (spec.startsWith('#')) stack.push(path.resolve(here, '..', IMPORTS[spec]!['@shrink/source'].default));
      else bare.set(spec, path.relative(here, file));
    }
  }
  return { files: [...seen], bare };
}

test('the portable entry imports only browser-safe packages', () => {
  const { files, bare } = reachable(path.join(here, 'index.ts'));
  assert.ok(files.length > 20, `walked only ${files.length} files`);
  const bad = [...bare].filter(([spec]) => !ALLOWED.has(spec)).map(([spec, from]) => `${spec} (from ${from})`);
  assert.deepEqual(bad, []);
  const nodeOnly = files.filter((f) =>
    /\bprocess\.|\bBuffer\.|require\(/.test(readFileSync(f, 'utf8').replace(/\/\/.*|\/\*[\s\S]*?\*\//g, '')),
  );
  assert.deepEqual(
    nodeOnly.map((f) => path.relative(here, f)),
    [],
  );
});

/**
 * Runs one fuzz case in this thread through the real CLI entry (`main(argv)`) and checks what the
 * CLI promises: exit 0 or 2 (or 1, a failed gate, for run and search); on 2 exactly one `shrink: ` line
 * (warnings aside) and no stack trace; never "unexpected error"; inputs untouched; no temporary or
 * partial file left behind; every model written on success loads in onnxruntime (ONNX) or as a tfjs
 * layers folder, not only in Shrink's own decoder.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadModel } from '@shrink/core/io';
import { createSession } from '@shrink/core/runtime';
import { MODEL_JSON, readLayersModelDir } from '@shrink/core/tfjs';
import { main } from '../main.js';
import type { FuzzCase } from './cases.js';

export interface CaseResult {
  index: number;
  label: string;
  code: number;
  /** The first line of stderr (the error message on exit 2). */
  message: string;
  ms: number;
  /** Broken promises; empty when the case passed. */
  problems: string[];
  /** An output exists after exit 2 (also listed in `problems`). */
  leftOutput: boolean;
}

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, base)));
    else out.push(path.relative(base, p));
  }
  return out;
}

/** Captures everything written to process.stdout/stderr (console included) while `fn` runs. */
export async function captured(fn: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  const grab = (append: (s: string) => void) =>
    ((chunk: unknown, ...rest: unknown[]) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = grab((s) => (stdout += s));
  process.stderr.write = grab((s) => (stderr += s));
  try {
    process.exitCode = undefined;
    const code = await fn();
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = undefined;
  }
}

export async function runCase(c: FuzzCase, dir: string): Promise<CaseResult> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const inputs = new Map<string, Buffer>();
  for (const f of c.files) {
    const p = path.join(dir, f.path);
    await mkdir(path.dirname(p), { recursive: true });
    // Configs name absolute paths inside the case folder as `{dir}`.
    await writeFile(p, typeof f.data === 'string' ? f.data.replaceAll('{dir}', dir) : f.data);
    inputs.set(f.path, await readFile(p));
  }
  const argv = c.argv.map((a) => a.replaceAll('{dir}', dir));
  const t0 = performance.now();
  const r = await captured(() => main(argv));
  const ms = performance.now() - t0;
  const problems: string[] = [];
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => !l.startsWith('warning: '));
  if (r.code !== 0 && r.code !== 2 && !(r.code === 1 && c.gates)) problems.push(`exit ${r.code}`);
  if (r.code === 2 && (errors.length !== 1 || !errors[0]!.startsWith('shrink: '))) {
    problems.push(`expected one 'shrink: ' line on stderr, got ${errors.length}: ${JSON.stringify(r.stderr.slice(0, 400))}`);
  }
  if (c.refusal !== undefined && !(r.code === 2 && errors[0]?.includes(c.refusal))) {
    problems.push(`expected exit 2 refusing the path ('${c.refusal}'), got exit ${r.code}: ${JSON.stringify(errors[0] ?? '')}`);
  }
  if (/unexpected error/.test(r.stderr)) problems.push('unexpected error');
  if (/\n\s+at .+[:(]/.test(r.stderr)) problems.push('stack trace on stderr');
  if (r.code === 0 && c.argv.includes('--json')) {
    try {
      JSON.parse(r.stdout);
    } catch {
      problems.push(`--json stdout is not JSON: ${JSON.stringify(r.stdout.slice(0, 200))}`);
    }
  }

  const after = await listFiles(dir);
  const known = new Set([...c.files.map((f) => f.path), ...c.outputs]);
  for (const f of after) {
    if (/\.tmp$/.test(f)) problems.push(`temporary file left: ${f}`);
    else if (!known.has(f) && !c.outputs.some((o) => f.startsWith(`${o}/`))) problems.push(`unexpected file: ${f}`);
  }
  for (const [rel, bytes] of inputs) {
    const now = await readFile(path.join(dir, rel)).catch(() => undefined);
    if (!now || !now.equals(bytes)) problems.push(`input ${rel} was changed`);
  }
  let leftOutput = false;
  for (const o of c.outputs.filter((o) => after.includes(o) || after.some((f) => f.startsWith(`${o}/`)))) {
    // Outputs are fresh paths: exit 2 must leave none of them behind (exit 1 is a finished run).
    if (r.code === 2) {
      leftOutput = true;
      problems.push(`exit ${r.code} left output ${o}`);
    }
    const files = after.includes(o) ? [o] : after.filter((f) => f.startsWith(`${o}/`));
    for (const f of files) {
      if (f.endsWith('.onnx')) problems.push(...(await onnxLoads(path.join(dir, f), f)));
      else if (path.basename(f) === MODEL_JSON) problems.push(...(await tfjsLoads(path.dirname(path.join(dir, f)), f)));
    }
  }
  await rm(dir, { recursive: true, force: true });
  return { index: c.index, label: c.label, code: r.code, message: errors[0] ?? '', ms, problems, leftOutput };
}

/** Shrink's decoder and onnxruntime (a session is cheap for these models) both accept the file. */
async function onnxLoads(file: string, rel: string): Promise<string[]> {
  try {
    await loadModel(file);
  } catch (e) {
    return [`output ${rel} does not load: ${(e as Error).message}`];
  }
  try {
    const s = await createSession(file);
    await s.release();
  } catch (e) {
    return [`output ${rel} is refused by onnxruntime: ${(e as Error).message}`];
  }
  return [];
}

async function tfjsLoads(folder: string, rel: string): Promise<string[]> {
  try {
    await readLayersModelDir(folder);
    return [];
  } catch (e) {
    return [`output ${rel} is not a loadable tfjs folder: ${(e as Error).message}`];
  }
}

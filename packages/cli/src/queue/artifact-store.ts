/**
 * Where models and data travel between the search and its workers: a shared folder (the default) or an
 * S3-compatible bucket, behind one small interface. Everything is addressed by content: a file is a blob
 * named by its SHA-256, a model or dataset is a tree (a manifest of relative paths and blob hashes) named
 * by the hash of its manifest. Whatever reads a tree checks every blob against its hash and writes it only
 * inside its own cache folder (`resolveInside`), so a tampered store cannot make a worker read or write
 * elsewhere, nor feed it a file other than the one the job names.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ShrinkError } from '@shrink/core';
import { resolveInside } from '@shrink/core/io';

export const HASH = /^[0-9a-f]{64}$/;
const KEY = /^(blobs\/[0-9a-f]{64}|trees\/[0-9a-f]{64}\.json|prefixes\/[0-9a-f]{64}\.json)$/;

export interface ArtifactStore {
  /** Where it is, without credentials. */
  readonly display: string;
  put(key: string, body: Buffer): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
  has(key: string): Promise<boolean>;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new ShrinkError('UNSAFE_PATH', `artifact store: refused key '${key.slice(0, 80)}' (not a content hash)`);
  return key;
}

/** A folder every machine mounts at the same or another path (NFS, SMB, a bind mount). */
export class FolderStore implements ArtifactStore {
  readonly display: string;
  constructor(readonly root: string) {
    this.display = root;
  }
  async put(key: string, body: Buffer): Promise<void> {
    const file = path.join(this.root, checkKey(key));
    await mkdir(path.dirname(file), { recursive: true });
    // Written beside and renamed: two workers storing the same blob never leave half a file.
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, file);
  }
  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(resolveInside(this.root, checkKey(key), `artifact ${key}`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }
  async has(key: string): Promise<boolean> {
    return stat(path.join(this.root, checkKey(key))).then(
      () => true,
      () => false,
    );
  }
}

/** Any S3-compatible store (AWS, MinIO, R2...): credentials and region from the AWS SDK's usual chain. */
export class S3Store implements ArtifactStore {
  readonly display: string;
  private client?: Promise<{ send: (c: unknown) => Promise<unknown>; mod: typeof import('@aws-sdk/client-s3') }>;
  constructor(
    readonly bucket: string,
    readonly prefix: string,
    private readonly endpoint = process.env['SHRINK_S3_ENDPOINT'] ?? process.env['AWS_ENDPOINT_URL'],
    /** Sends the SDK's commands (tests give a stand-in); default an S3Client. */
    private readonly sendVia?: (command: unknown) => Promise<unknown>,
  ) {
    this.display = `s3://${bucket}/${prefix}${endpoint ? ` at ${new URL(endpoint).host}` : ''}`;
  }
  private s3() {
    this.client ??= import('@aws-sdk/client-s3').then((mod) => {
      if (this.sendVia) return { send: this.sendVia, mod };
      const c = new mod.S3Client({
        ...(this.endpoint ? { endpoint: this.endpoint, forcePathStyle: true } : {}),
        region: process.env['AWS_REGION'] ?? 'us-east-1',
      });
      return { send: (cmd: unknown) => c.send(cmd as never), mod };
    });
    return this.client;
  }
  private key(key: string): string {
    return `${this.prefix}${this.prefix && !this.prefix.endsWith('/') ? '/' : ''}${checkKey(key)}`;
  }
  async put(key: string, body: Buffer): Promise<void> {
    const { send, mod } = await this.s3();
    await send(new mod.PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: body }));
  }
  async get(key: string): Promise<Buffer | undefined> {
    const { send, mod } = await this.s3();
    try {
      const r = (await send(new mod.GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }))) as {
        Body?: { transformToByteArray(): Promise<Uint8Array> };
      };
      return r.Body ? Buffer.from(await r.Body.transformToByteArray()) : undefined;
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchKey' || (e as { name?: string }).name === 'NotFound') return undefined;
      throw e;
    }
  }
  async has(key: string): Promise<boolean> {
    const { send, mod } = await this.s3();
    try {
      await send(new mod.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return true;
    } catch (e) {
      if (
        (e as { name?: string }).name === 'NotFound' ||
        (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
      )
        return false;
      throw e;
    }
  }
}

/** The default shared folder: fine for workers on this machine; other machines need `--store`. */
export function defaultStoreDir(): string {
  return process.env['SHRINK_STORE'] ?? path.join(os.homedir(), '.cache', 'shrink', 'queue-store');
}

/** `s3://bucket/prefix`, or a folder (default: $SHRINK_STORE, else ~/.cache/shrink/queue-store). */
export function openStore(spec: string | undefined): ArtifactStore {
  const s = spec ?? defaultStoreDir();
  if (/^s3:\/\//i.test(s)) {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/?(.*)$/i.exec(s);
    if (!m) throw new ShrinkError('INVALID_ARGUMENT', `--store: '${s}' is not s3://bucket[/prefix]`);
    return new S3Store(m[1]!, m[2]!);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s))
    throw new ShrinkError('INVALID_ARGUMENT', `--store: expected a folder or s3://bucket[/prefix], got a ${s.split(':')[0]}: URL`);
  return new FolderStore(path.resolve(s));
}

const manifestSchema = z.strictObject({
  files: z
    .array(
      z.strictObject({
        path: z.string().min(1).max(400),
        sha256: z.string().regex(HASH),
        bytes: z.number().int().min(0),
      }),
    )
    .min(1)
    .max(10_000),
});
export type Manifest = z.output<typeof manifestSchema>;

async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

/**
 * Stores a file (as a one-file tree named by its base name) or a folder; `files` limits a tree to some of
 * a folder's files (a model and its external data). Returns the tree's hash.
 */
export async function putTree(store: ArtifactStore, local: string, files?: readonly string[]): Promise<string> {
  const st = await stat(local);
  const base = st.isDirectory() ? local : path.dirname(local);
  const rels = files ?? (st.isDirectory() ? await walk(local) : [path.basename(local)]);
  const manifest: Manifest = { files: [] };
  for (const rel of rels) {
    const body = await readFile(path.join(base, rel));
    const hash = sha256(body);
    if (!(await store.has(`blobs/${hash}`))) await store.put(`blobs/${hash}`, body);
    manifest.files.push({ path: rel.split(path.sep).join('/'), sha256: hash, bytes: body.length });
  }
  const text = JSON.stringify(manifest);
  const hash = sha256(text);
  if (!(await store.has(`trees/${hash}.json`))) await store.put(`trees/${hash}.json`, Buffer.from(text));
  return hash;
}

/** A tree's manifest, checked: its own hash, and safe relative paths. */
export async function readManifest(store: ArtifactStore, hash: string): Promise<Manifest> {
  if (!HASH.test(hash)) throw new ShrinkError('UNSAFE_PATH', `artifact store: '${hash.slice(0, 80)}' is not a content hash`);
  const body = await store.get(`trees/${hash}.json`);
  if (!body) throw new ShrinkError('NOT_FOUND', `artifact store ${store.display}: tree ${hash.slice(0, 12)} missing`);
  if (sha256(body) !== hash)
    throw new ShrinkError('INVALID_DATA', `artifact store ${store.display}: tree ${hash.slice(0, 12)} does not match its hash`);
  const parsed = manifestSchema.safeParse(JSON.parse(body.toString('utf8')));
  if (!parsed.success) throw new ShrinkError('INVALID_DATA', `artifact store: tree ${hash.slice(0, 12)} is not a manifest`);
  return parsed.data;
}

/**
 * Copies a tree into `cacheDir/<hash>/` (once; later calls reuse it) and returns that folder. Every path
 * stays inside it and every blob must match its hash.
 */
export async function getTree(store: ArtifactStore, hash: string, cacheDir: string): Promise<string> {
  const manifest = await readManifest(store, hash);
  await mkdir(cacheDir, { recursive: true });
  const dest = resolveInside(cacheDir, hash, `artifact ${hash.slice(0, 12)}`);
  if (
    await stat(path.join(dest, '.complete')).then(
      () => true,
      () => false,
    )
  )
    return dest;
  const tmp = `${dest}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await mkdir(tmp, { recursive: true });
  try {
    for (const f of manifest.files) {
      const body = await store.get(`blobs/${f.sha256}`);
      if (!body || sha256(body) !== f.sha256)
        throw new ShrinkError('INVALID_DATA', `artifact store ${store.display}: blob of ${f.path} is ${body ? 'damaged' : 'missing'}`);
      const file = resolveInside(tmp, f.path, `artifact file '${f.path.slice(0, 80)}'`);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, body);
    }
    await writeFile(path.join(tmp, '.complete'), '');
    await rename(tmp, dest).catch(async (e: unknown) => {
      // Another worker of this machine finished the same tree first: theirs is as good.
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno !== 'ENOTEMPTY' && errno !== 'EEXIST') throw e;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return dest;
}

/** The one file of a tree a job names, checked to be in the manifest and inside the tree's folder. */
export function fileInTree(dir: string, manifest: Manifest, rel: string): string {
  if (!manifest.files.some((f) => f.path === rel))
    throw new ShrinkError('UNSAFE_PATH', `artifact: '${rel.slice(0, 80)}' is not in its tree`);
  return resolveInside(dir, rel, `artifact file '${rel.slice(0, 80)}'`);
}

/** Writes a tree's files into `dir` (a search's trials folder), each checked against its hash and kept inside `dir`. */
export async function writeTreeInto(store: ArtifactStore, hash: string, dir: string): Promise<Manifest> {
  const manifest = await readManifest(store, hash);
  await mkdir(dir, { recursive: true });
  for (const f of manifest.files) {
    const body = await store.get(`blobs/${f.sha256}`);
    if (!body || sha256(body) !== f.sha256)
      throw new ShrinkError('INVALID_DATA', `artifact store ${store.display}: blob of ${f.path} is ${body ? 'damaged' : 'missing'}`);
    const file = resolveInside(dir, f.path, `artifact file '${f.path.slice(0, 80)}'`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, body);
  }
  return manifest;
}

/**
 * A tiny http server on 127.0.0.1 (random port) for one Chromium run: the page, onnxruntime-web's dist
 * files, the model and sample bytes, and a POST endpoint where the page leaves its outputs. http on the
 * loopback address is a secure context, which WebGPU requires; cross-origin isolation headers let
 * onnxruntime-web use wasm threads (SharedArrayBuffer) when more than one is asked for.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface LocalServer {
  readonly origin: string;
  /** Raw bytes the page POSTed, by path (`/output/<m>/<s>/<k>`). */
  readonly posted: Map<string, Uint8Array>;
  /** Every path asked for, in order (for tests and for messages). */
  readonly served: string[];
  close(): Promise<void>;
}

export interface ServedContent {
  readonly html: string;
  /** The folder of onnxruntime-web's dist files; only plain file names inside it are served. */
  readonly ortDir: string;
  readonly models: readonly Uint8Array[];
  /** Per sample, its tensors' bytes in order. */
  readonly samples: ReadonlyArray<readonly Uint8Array[]>;
}

const TYPES: Readonly<Record<string, string>> = {
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.html': 'text/html; charset=utf-8',
};

/** Largest POSTed body (one output tensor): 1 GiB, far beyond any model Shrink measures in a browser. */
const MAX_POST = 1 << 30;

function send(res: ServerResponse, status: number, body: Uint8Array | string, type = 'application/octet-stream'): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
  });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_POST) req.destroy(new Error(`a POSTed output exceeds ${MAX_POST} bytes`));
      else chunks.push(c);
    });
    req.on('end', () => {
      const all = Buffer.concat(chunks);
      // A copy with its own aligned buffer: typed arrays of 8-byte elements are made over it later.
      resolve(new Uint8Array(all));
    });
    req.on('error', reject);
  });
}

export async function startLocalServer(content: ServedContent): Promise<LocalServer> {
  const posted = new Map<string, Uint8Array>();
  const served: string[] = [];
  type Reply = readonly [status: number, body: Uint8Array | string, type?: string];
  const notFound = (what: string): Reply => [404, `no such ${what}`, 'text/plain'];
  const reply = async (req: IncomingMessage): Promise<Reply> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const p = url.pathname;
    served.push(`${req.method ?? 'GET'} ${p}`);
    if (req.method === 'POST' && /^\/output\/\d+\/\d+\/\d+$/.test(p)) {
      posted.set(p, await readBody(req));
      return [204, ''];
    }
    if (req.method !== 'GET') return [405, 'method not allowed', 'text/plain'];
    if (p === '/') return [200, content.html, TYPES['.html']];
    let m = /^\/model\/(\d+)$/.exec(p);
    if (m) {
      const bytes = content.models[Number(m[1])];
      return bytes ? [200, bytes] : notFound('model');
    }
    m = /^\/sample\/(\d+)\/(\d+)$/.exec(p);
    if (m) {
      const bytes = content.samples[Number(m[1])]?.[Number(m[2])];
      return bytes ? [200, bytes] : notFound('sample tensor');
    }
    m = /^\/ort\/([\w.-]+)$/.exec(p);
    // A plain file name (no separators, not "..") inside onnxruntime-web's dist folder, nothing else.
    if (!m || m[1]!.startsWith('.')) return notFound('file');
    const file = path.join(content.ortDir, m[1]!);
    try {
      return [200, await readFile(file), TYPES[path.extname(file)]];
    } catch {
      return notFound('file');
    }
  };
  const server = createServer((req, res) => {
    reply(req).then(
      ([status, body, type]) => send(res, status, body, type),
      (e: unknown) => send(res, 500, String(e), 'text/plain'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    posted,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

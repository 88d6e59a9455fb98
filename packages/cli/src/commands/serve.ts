/**
 * `shrink serve [--port N] [--dir D]`: the browser app (packages/web/dist, built by `pnpm build`) on
 * http://127.0.0.1 only. Static files, nothing else: the page talks to no server; this is for browsers and
 * hosts where file:// is not wanted. Cross-origin isolation headers let onnxruntime-web use wasm threads.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { ShrinkError } from '@shrink/core';
import type { ArgsOf, GlobalArgs } from '../output.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** The built site: beside the sources (packages/web/dist), or beside the bundled CLI (dist/web). */
export function defaultSiteDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../../web/dist'), path.resolve(here, '../web'), path.resolve(here, '../../../../web/dist')];
  return candidates.find((d) => existsSync(path.join(d, 'index.html'))) ?? candidates[0]!;
}

export interface SiteServer {
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves `dir` on 127.0.0.1:`port` (0: any free port). Paths outside `dir` are 404. */
export async function serveSite(dir: string, port = 0): Promise<SiteServer> {
  if (!existsSync(path.join(dir, 'index.html'))) {
    throw new ShrinkError('NOT_FOUND', `${dir} has no index.html: build the browser app first (pnpm build)`);
  }
  const root = path.resolve(dir);
  const server: Server = createServer((req, res) => {
    const reply = async (): Promise<void> => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const rel = decodeURIComponent(url.pathname).replace(/^\/+/, '') || 'index.html';
      const file = path.resolve(root, rel);
      const inside = file === root || file.startsWith(root + path.sep);
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      if (
        !inside ||
        !(await stat(file).then(
          (s) => s.isFile(),
          () => false,
        ))
      ) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
        return;
      }
      const body = await readFile(file);
      res.writeHead(200, {
        'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Cache-Control': 'no-cache',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    reply().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new ShrinkError('INVALID_ARGUMENT', `port ${port} is in use: choose another with --port`, { option: 'port' })
          : e,
      ),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const builder = (y: Argv<GlobalArgs>) =>
  y
    .option('port', { type: 'number', default: 8173, describe: 'Port on 127.0.0.1 (0: any free port)' })
    .option('dir', { type: 'string', describe: 'The built site (default: packages/web/dist)' });
type Args = ArgsOf<typeof builder>;

export const serveCommand: CommandModule<GlobalArgs, Args> = {
  command: 'serve',
  describe: 'Serve the browser app (compress and measure models in the browser, nothing uploaded) on 127.0.0.1',
  builder,
  handler: async (argv) => {
    const s = await serveSite(argv.dir ?? defaultSiteDir(), argv.port);
    process.stdout.write(`Shrink in the browser: ${s.origin}/ (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => process.once('SIGINT', resolve));
    await s.close();
  },
};

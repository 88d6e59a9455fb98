// Shared by the queue tests: a real redis-server on 127.0.0.1 (a free port, no persistence, a temp folder),
// and `shrink` child processes whose stderr lines a test can wait for.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REDIS_SERVER = '/usr/bin/redis-server';
/** Why the queue tests cannot run here, or undefined when they can. */
export const skipReason = existsSync(REDIS_SERVER) ? undefined : `${REDIS_SERVER} is missing (apt-get install redis-server)`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/**
 * A self-signed certificate for 127.0.0.1 (`cert.pem`, `key.pem` in `dir`): clients trust it through
 * NODE_EXTRA_CA_CERTS.
 */
export function makeCertificate(dir: string): string {
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return cert;
}

/** Starts redis-server on loopback (TLS only with `tls`: makeCertificate first); resolves once it accepts connections. */
export async function startRedis(dir: string, password?: string, tls = false, onPort?: number): Promise<RedisServer> {
  const port = onPort ?? (await freePort());
  const args = tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        path.join(dir, 'cert.pem'),
        '--tls-key-file',
        path.join(dir, 'key.pem'),
        '--tls-ca-cert-file',
        path.join(dir, 'cert.pem'),
        '--tls-auth-clients',
        'no',
      ]
    : ['--port', String(port)];
  args.push('--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir);
  if (password !== undefined) args.push('--requirepass', password);
  const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return {
    port,
    url: `${tls ? 'rediss' : 'redis'}://${password !== undefined ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${port}`,
    proc,
    stop: () => kill(proc, 'SIGKILL'),
  };
}

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', 'bin.ts');
const TSX = import.meta.resolve('tsx');

/** A `shrink` child process: its output so far, and a way to wait for a line. */
export interface Shrink {
  proc: ChildProcess;
  out(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

export function shrink(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Shrink {
  const proc = spawn(process.execPath, ['--import', TSX, '--conditions=@shrink/source', bin, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters: Array<() => void> = [];
  const take = (d: Buffer) => {
    text += d.toString();
    waiters.splice(0).forEach((w) => w());
  };
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    out: () => text,
    exited,
    waitFor: (re, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${text.slice(-3000)}`)), timeoutMs);
        const check = () => {
          const m = re.exec(text);
          if (m) {
            clearTimeout(t);
            resolve(m[0]);
          } else if (proc.exitCode !== null) {
            clearTimeout(t);
            reject(new Error(`process exited (${proc.exitCode}) before ${re}; output:\n${text.slice(-3000)}`));
          } else waiters.push(check);
        };
        proc.once('exit', () => waiters.push(check) && setImmediate(check));
        check();
      }),
  };
}

/** Sends a signal and waits for the process to end. */
export async function kill(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  await gone;
}

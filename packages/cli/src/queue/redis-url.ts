/**
 * Redis URLs as `--queue` and `search.queue` give them: redis://[user[:password]@]host[:port][/db] and
 * rediss:// (TLS). The password goes to ioredis and nowhere else: every line Shrink prints about the queue
 * names it by `display`, and `redactor` scrubs messages that come back from ioredis or BullMQ.
 */
import { isIP } from 'node:net';
import { ShrinkError } from '@shrink/core';

export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL without its password (user kept, `***` instead), for logs, reports and errors. */
  display: string;
}

/** A URL with its user info hidden: `redis://:***@host:6379/0`. Works on text that is not a valid URL too. */
export function redactUrl(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/gi, (_, scheme: string, user: string) => {
    const name = user.includes(':') ? user.slice(0, user.indexOf(':')) : '';
    return `${scheme}${name ? `${name}:` : ':'}***@`;
  });
}

/** Replaces every secret (and any URL user info) in `text`. */
export function redactor(secrets: ReadonlyArray<string | undefined>): (text: string) => string {
  const list = secrets.filter((s): s is string => s !== undefined && s.length > 0);
  // Percent-encoded forms too: a password with '@' or ':' travels encoded in the URL.
  const all = [...new Set(list.flatMap((s) => [s, encodeURIComponent(s)]))].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = redactUrl(text);
    for (const s of all) out = out.split(s).join('***');
    return out;
  };
}

/** Parses a queue URL; errors never repeat the password. */
export function parseRedisUrl(raw: string, what = '--queue'): RedisTarget {
  const refuse = (why: string) =>
    new ShrinkError('INVALID_ARGUMENT', `${what}: ${why} (expected redis://[user:password@]host[:port][/db] or rediss:// for TLS)`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not repeated: whatever it is, it may hold the password.
    throw refuse('not a URL');
  }
  const display = `${url.protocol}//${url.username || url.password ? `${decodeURIComponent(url.username)}${url.password ? ':***' : ''}@` : ''}${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw refuse(`${display}: the scheme must be redis: or rediss:`);
  if (!url.hostname) throw refuse(`${display}: no host`);
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,2}$/.test(dbText)) throw refuse(`${display}: the database must be a number, got '${dbText}'`);
  if (url.search || url.hash) throw refuse(`${display}: no query or fragment`);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db: dbText === '' ? 0 : Number(dbText),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    tls: url.protocol === 'rediss:',
    display,
  };
}

/**
 * ioredis options. BullMQ's blocking connections need `maxRetriesPerRequest: null`; reconnects back off to
 * at most 2 s, so a Redis that comes back is found quickly, and the search side bounds how long it waits
 * (see queue-search.ts), so nothing here can hang a search.
 */
export function ioredisOptions(t: RedisTarget): Record<string, unknown> {
  return {
    host: t.host,
    port: t.port,
    db: t.db,
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    // TLS checks the server's certificate against the host (SNI only for names: Node refuses an IP as servername).
    ...(t.tls ? { tls: isIP(t.host) ? {} : { servername: t.host } } : {}),
    maxRetriesPerRequest: null,
    connectTimeout: 5_000,
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
  };
}

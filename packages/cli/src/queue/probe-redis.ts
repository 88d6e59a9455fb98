import { Redis } from 'ioredis';
import { ShrinkError } from '@shrink/core';
import { ioredisOptions, type RedisTarget } from './redis-url.js';

/**
 * Connects once, without retrying, and pings: an unreachable Redis or a refused password is one line at
 * once (exit 2), not a quiet retry loop. The message never holds the password.
 */
export async function probeRedis(redis: RedisTarget, redact: (s: string) => string, from: string): Promise<void> {
  const probe = new Redis({ ...ioredisOptions(redis), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let why = '';
  probe.on('error', (e: Error) => void (why ||= redact(e.message)));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await probe.connect();
        await probe.ping();
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
      }),
    ]);
  } catch (e) {
    throw new ShrinkError('INVALID_ARGUMENT', `${from}: cannot reach Redis at ${redis.display}: ${why || redact((e as Error).message)}`);
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}

/**
 * The built site for the browser tests and the bench: packages/web/dist as `pnpm build` leaves it,
 * rebuilt first when a source is newer than it, and served by `shrink serve`'s server.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(WEB, 'dist');
export const CHROMIUM = process.env['SHRINK_CHROMIUM'] ?? '/usr/bin/chromium';

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

/** dist/, built when missing or older than the page's sources or the core/pass sources it bundles. */
export function builtSite(): string {
  const marker = path.join(DIST, 'assets', 'measure.js');
  const sources = Math.max(
    newest(path.join(WEB, 'src')),
    statSync(path.join(WEB, 'vite.config.ts')).mtimeMs,
    statSync(path.join(WEB, 'index.html')).mtimeMs,
    ...['core', 'quantize', 'prune', 'cleanup'].map((p) => newest(path.join(WEB, '..', p, 'src'))),
  );
  if (!existsSync(marker) || statSync(marker).mtimeMs < sources) {
    const r = spawnSync(path.join(WEB, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'error'], { cwd: WEB, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}\n${r.stderr}`);
  }
  return DIST;
}

/** JavaScript the page loads before anything is asked of it: the scripts index.html names. */
export function firstLoadScripts(dist: string): string[] {
  return [path.join(dist, 'assets', 'app.js')];
}

/** Debian's chromium through playwright-core (a dependency of this package, so the bench finds it here too). */
export async function launchChromium(): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

import type { FuzzSummary } from './run-fuzz.js';

/** The lines a fuzz run prints: counts, seed, time, and each failure with how to replay it. */
export function formatSummary(s: FuzzSummary): string {
  const cmds = Object.entries(s.byCommand)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const lines = [
    `fuzz: ${s.cases} cases, seed ${s.seed}, ${(s.ms / 1000).toFixed(1)} s: exit 0 x${s.exit0}, exit 1 (gate) x${s.exit1}, exit 2 x${s.exit2}, failures ${s.failures.length}`,
    `  commands: ${cmds}`,
    `  slowest case: #${s.slowest.index} ${Math.round(s.slowest.ms)} ms (${s.slowest.label})`,
  ];
  for (const f of s.failures) {
    lines.push(`  FAIL #${f.index}: ${f.label}`, ...f.problems.map((p) => `      ${p.slice(0, 800)}`));
  }
  if (s.failures.length) lines.push(`  replay: node scripts/fuzz.mjs --seed ${s.seed} --only ${s.failures.map((f) => f.index).join(',')}`);
  return lines.join('\n');
}

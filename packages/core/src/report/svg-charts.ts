/**
 * Inline SVG charts for the HTML report: horizontal bars and a scatter with a highlighted front. Pure
 * string building (no DOM, no scripts), so the report stays one self-contained, portable file. Every
 * chart is a <figure> with a visible caption, axis labels and an SVG <title>/<desc> for screen readers;
 * without data it is the caption and a "no data" line instead of an empty plot.
 */
import { escapeHtml } from './escape-html.js';

export interface Bar {
  label: string;
  value: number;
  /** The value as shown next to the bar (humanized). */
  display: string;
  tone?: 'baseline' | 'candidate';
}

export interface BarChartSpec {
  /** Unique in the page; used for the aria ids. */
  id: string;
  title: string;
  valueLabel: string;
  categoryLabel: string;
  bars: Bar[];
  tick: (v: number) => string;
  /** Why there is nothing to draw, when `bars` is empty. */
  emptyText: string;
  /** A line under the chart (e.g. how many bars were left out). */
  footnote?: string;
}

export interface ScatterPoint {
  label: string;
  x: number;
  y: number;
  kind: 'front' | 'other' | 'failed' | 'baseline';
  best?: boolean;
  /** Hover text (the SVG <title> of the point). */
  tip: string;
}

export interface ScatterSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  points: ScatterPoint[];
  xTick: (v: number) => string;
  yTick: (v: number) => string;
  emptyText: string;
  /** Connect the front points in x order. */
  frontLine?: boolean;
}

const W = 640;
const n1 = (x: number) => (Math.round(x * 10) / 10).toString();

/** About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return niceTicks(lo - pad, hi + pad, count);
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The 1-2-5 step nearest to the raw one (in ratio), so a chart gets about `count` ticks, not half as many.
  const step =
    [1, 2, 5, 10].reduce((best, m) => (Math.abs(Math.log((m * mag) / raw)) < Math.abs(Math.log((best * mag) / raw)) ? m : best), 1) * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1]! < hi) out.push(Number((out[out.length - 1]! + step).toPrecision(12)));
  return out;
}

function clipLabel(s: string, max = 26): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function frame(id: string, title: string, desc: string, height: number, body: string, footnote?: string): string {
  const t = escapeHtml(title);
  return (
    `<figure class="chart" id="${escapeHtml(id)}"><figcaption>${t}</figcaption>` +
    `<svg class="chart-svg" role="img" aria-labelledby="${escapeHtml(id)}-t ${escapeHtml(id)}-d" viewBox="0 0 ${W} ${n1(height)}" width="${W}" height="${n1(height)}" xmlns="http://www.w3.org/2000/svg">` +
    `<title id="${escapeHtml(id)}-t">${t}</title><desc id="${escapeHtml(id)}-d">${escapeHtml(desc)}</desc>${body}</svg>` +
    `${footnote !== undefined ? `<p class="chart-note">${escapeHtml(footnote)}</p>` : ''}</figure>`
  );
}

/** The caption and a line saying why there is no chart. */
export function noData(id: string, title: string, why: string): string {
  return `<figure class="chart no-data" id="${escapeHtml(id)}"><figcaption>${escapeHtml(title)}</figcaption><p class="no-data">No data: ${escapeHtml(why)}</p></figure>`;
}

/** Horizontal bars, one per category, with the value written at the end of each bar. */
export function barChart(spec: BarChartSpec): string {
  if (spec.bars.length === 0) return noData(spec.id, spec.title, spec.emptyText);
  const left = 190;
  const right = 90;
  const top = 10;
  const rowH = 24;
  const plotW = W - left - right;
  const plotH = spec.bars.length * rowH;
  const values = spec.bars.map((b) => b.value);
  const ticks = niceTicks(Math.min(0, ...values), Math.max(0, ...values), 4);
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const sx = (v: number) => left + ((v - lo) / (hi - lo)) * plotW;
  const parts: string[] = [];
  for (const t of ticks) {
    const x = n1(sx(t));
    parts.push(`<line class="grid" x1="${x}" y1="${top}" x2="${x}" y2="${top + plotH}"/>`);
    parts.push(`<text class="tick" x="${x}" y="${top + plotH + 14}" text-anchor="middle">${escapeHtml(spec.tick(t))}</text>`);
  }
  spec.bars.forEach((b, i) => {
    const y = top + i * rowH + 4;
    const x0 = sx(Math.min(0, b.value));
    const w = Math.max(1, Math.abs(sx(b.value) - sx(0)));
    parts.push(
      `<g class="bar ${b.tone ?? 'candidate'}"><title>${escapeHtml(`${b.label}: ${b.display}`)}</title>` +
        `<text class="cat" x="${left - 6}" y="${n1(y + 12)}" text-anchor="end">${escapeHtml(clipLabel(b.label))}</text>` +
        `<rect x="${n1(x0)}" y="${n1(y)}" width="${n1(w)}" height="${rowH - 8}"/>` +
        `<text class="val" x="${n1(Math.max(sx(b.value), sx(0)) + 4)}" y="${n1(y + 12)}">${escapeHtml(b.display)}</text></g>`,
    );
  });
  parts.push(`<line class="axis" x1="${n1(sx(0))}" y1="${top}" x2="${n1(sx(0))}" y2="${top + plotH}"/>`);
  parts.push(
    `<text class="axis-label" x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle">${escapeHtml(spec.valueLabel)}</text>`,
  );
  parts.push(
    `<text class="axis-label" transform="translate(14 ${n1(top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.categoryLabel)}</text>`,
  );
  const desc = `${spec.valueLabel} by ${spec.categoryLabel}: ${spec.bars.map((b) => `${b.label} ${b.display}`).join('; ')}`;
  return frame(spec.id, spec.title, desc, top + plotH + 44, parts.join(''), spec.footnote);
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const overlaps = (a: Box, b: Box) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/**
 * Point names placed beside their points without overlapping each other or leaving the plot: points at
 * the same spot share one label; a label that fits nowhere is left out (the point's tooltip still names it).
 * Returns the SVG text per point that gets a label.
 */
function placeLabels(points: ScatterPoint[], at: (p: ScatterPoint) => [number, number], plot: Box): Map<ScatterPoint, string> {
  const groups: Array<{ lead: ScatterPoint; names: string[]; x: number; y: number }> = [];
  for (const p of points) {
    const [x, y] = at(p);
    const g = groups.find((q) => Math.abs(q.x - x) < 3 && Math.abs(q.y - y) < 3);
    if (g) g.names.push(p.label);
    else groups.push({ lead: p, names: [p.label], x, y });
  }
  const important = (p: ScatterPoint) => (p.best ? 0 : p.kind === 'front' ? 1 : p.kind === 'baseline' ? 2 : 3);
  groups.sort((a, b) => important(a.lead) - important(b.lead));
  // Occupied space starts with the points themselves, so a label does not cover a neighbour.
  const placed: Box[] = groups.map((g) => ({ x0: g.x - 5, y0: g.y - 5, x1: g.x + 5, y1: g.y + 5 }));
  const out = new Map<ScatterPoint, string>();
  for (const g of groups) {
    const text = clipLabel(g.names.join(', '), 30);
    const w = text.length * 6.2;
    const spots = [
      [8, -6, 'start'],
      [8, 14, 'start'],
      [8, -16, 'start'],
      [-8, -6, 'end'],
      [-8, 14, 'end'],
      [0, -12, 'middle'],
      [0, 21, 'middle'],
    ] as const;
    for (const [dx, dy, anchor] of spots) {
      const x = g.x + dx;
      const y = g.y + dy;
      const x0 = anchor === 'start' ? x : anchor === 'end' ? x - w : x - w / 2;
      const box = { x0, y0: y - 10, x1: x0 + w, y1: y + 2 };
      if (box.x0 < plot.x0 || box.x1 > plot.x1 || box.y0 < plot.y0 || box.y1 > plot.y1) continue;
      if (placed.some((b) => overlaps(b, box))) continue;
      placed.push(box);
      out.set(
        g.lead,
        `<text class="pt-label" x="${n1(x)}" y="${n1(y)}"${anchor === 'start' ? '' : ` text-anchor="${anchor}"`}>${escapeHtml(text)}</text>`,
      );
      break;
    }
  }
  return out;
}

/** Points on two value axes; the front (if any) drawn as a line through its points. */
export function scatterChart(spec: ScatterSpec): string {
  if (spec.points.length === 0) return noData(spec.id, spec.title, spec.emptyText);
  const left = 70;
  const right = 24;
  const top = 14;
  const plotW = W - left - right;
  const plotH = 280;
  const xt = niceTicks(Math.min(...spec.points.map((p) => p.x)), Math.max(...spec.points.map((p) => p.x)), 5);
  const yt = niceTicks(Math.min(...spec.points.map((p) => p.y)), Math.max(...spec.points.map((p) => p.y)), 5);
  const [x0, x1, y0, y1] = [xt[0]!, xt[xt.length - 1]!, yt[0]!, yt[yt.length - 1]!];
  const sx = (v: number) => left + ((v - x0) / (x1 - x0)) * plotW;
  const sy = (v: number) => top + plotH - ((v - y0) / (y1 - y0)) * plotH;
  const parts: string[] = [`<rect class="plot" x="${left}" y="${top}" width="${plotW}" height="${plotH}"/>`];
  for (const t of xt) {
    const x = n1(sx(t));
    parts.push(
      `<line class="grid" x1="${x}" y1="${top}" x2="${x}" y2="${top + plotH}"/><text class="tick" x="${x}" y="${top + plotH + 14}" text-anchor="middle">${escapeHtml(spec.xTick(t))}</text>`,
    );
  }
  for (const t of yt) {
    const y = n1(sy(t));
    parts.push(
      `<line class="grid" x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}"/><text class="tick" x="${left - 4}" y="${n1(sy(t) + 4)}" text-anchor="end">${escapeHtml(spec.yTick(t))}</text>`,
    );
  }
  const front = spec.points.filter((p) => p.kind === 'front').sort((a, b) => a.x - b.x);
  if (spec.frontLine && front.length > 1) {
    parts.push(`<path class="front-line" d="${front.map((p, i) => `${i === 0 ? 'M' : 'L'}${n1(sx(p.x))} ${n1(sy(p.y))}`).join(' ')}"/>`);
  }
  // Front and best last, so they are drawn over the others.
  const order = [...spec.points].sort((a, b) => Number(a.kind === 'front' || !!a.best) - Number(b.kind === 'front' || !!b.best));
  const labels =
    spec.points.length <= 40
      ? placeLabels(order, (p) => [sx(p.x), sy(p.y)], { x0: left, y0: top, x1: left + plotW, y1: top + plotH })
      : new Map<ScatterPoint, string>();
  for (const p of order) {
    parts.push(
      `<g class="pt ${p.kind}${p.best ? ' best' : ''}"><title>${escapeHtml(p.tip)}</title>` +
        `<circle cx="${n1(sx(p.x))}" cy="${n1(sy(p.y))}" r="${p.best ? 7 : 4.5}"/>${labels.get(p) ?? ''}</g>`,
    );
  }
  parts.push(
    `<text class="axis-label" x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`,
  );
  parts.push(
    `<text class="axis-label" transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.yLabel)}</text>`,
  );
  const desc = `${spec.yLabel} against ${spec.xLabel} for ${spec.points.length} points${front.length > 0 ? `; front: ${front.map((p) => p.label).join(', ')}` : ''}`;
  return frame(spec.id, spec.title, desc, top + plotH + 44, parts.join(''));
}

/** A legend row for the scatter's point kinds, as HTML (shared by every scatter of a page). */
export function scatterLegend(kinds: ReadonlyArray<ScatterPoint['kind'] | 'best'>): string {
  const text: Record<string, string> = {
    front: 'Pareto front',
    other: 'other',
    failed: 'failed a gate',
    baseline: 'baseline',
    best: 'best',
  };
  return (
    `<p class="legend">` +
    kinds
      .map(
        (k) =>
          `<span class="lg"><svg width="14" height="14" aria-hidden="true"><g class="pt ${k === 'best' ? 'front best' : k}"><circle cx="7" cy="7" r="${k === 'best' ? 6 : 4.5}"/></g></svg>${escapeHtml(text[k]!)}</span>`,
      )
      .join(' ') +
    `</p>`
  );
}

import type { Report } from './report.js';

/** The report as one self-contained HTML file with charts (contract; renderer in progress). */
export function renderHtml(report: Report): string {
  return `<!doctype html><meta charset="utf-8"><title>Shrink report</title><h1>${report.baseline.name}</h1>`;
}

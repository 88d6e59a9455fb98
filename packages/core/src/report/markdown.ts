import type { Report } from './report.js';

/** The report as Markdown that fits a pull-request comment (contract; renderer in progress). */
export function renderMarkdown(report: Report): string {
  return `# Shrink report\n\nBaseline: ${report.baseline.name}\n`;
}

import path from 'node:path';
import { renderHtml, renderJson, renderMarkdown, type Report } from '@shrink/core';
import { writeFileAtomic } from '@shrink/core/io';
import { renderTable } from '@shrink/core/terminal';

export const REPORT_FILES = ['report.json', 'report.md', 'report.html', 'report.txt'] as const;

/** The four renderings of one report into the output folder, each written atomically; returns their paths. */
export async function writeReports(report: Report, dir: string): Promise<string[]> {
  const texts: Record<(typeof REPORT_FILES)[number], string> = {
    'report.json': renderJson(report),
    'report.md': renderMarkdown(report),
    'report.html': renderHtml(report),
    'report.txt': `${renderTable(report)}\n`,
  };
  const out: string[] = [];
  for (const name of REPORT_FILES) {
    const file = path.join(dir, name);
    await writeFileAtomic(file, texts[name]);
    out.push(file);
  }
  return out;
}

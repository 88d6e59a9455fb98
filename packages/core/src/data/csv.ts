import { ShrinkError } from '../errors.js';
import type { Dataset, Task } from './dataset.js';
import { createDataset } from './dataset-ops.js';
import { areClassIndices, chooseTask, countDistinct, toClassIndices } from './labels.js';
import { readDataFile } from './read-data-file.js';

/** Most distinct integer labels a CSV column may have and still be taken as classes. */
const MAX_AUTO_CLASSES = 100;

export interface CsvTable {
  readonly file: string;
  /** Column names when the first line was a header. */
  readonly header?: readonly string[];
  readonly rows: number;
  readonly cols: number;
  /** rows * cols values, row-major. */
  readonly values: Float64Array;
  /** 1-based line number of each data row (for error messages). */
  readonly lines: Int32Array;
}

export interface CsvDatasetOptions {
  /** Dataset name (defaults to the file). */
  name?: string;
  /** Label column: header name or index (negative counts from the end). Default: the last column. */
  label?: string | number;
  /** Overrides the inferred task. Inferred: classification when labels are non-negative integers
   *  with few distinct values (at most 100 and at most half the rows), else regression. */
  task?: Task;
  /** Class count for classification (default: largest label + 1). */
  numClasses?: number;
}

function splitLine(line: string, delimiter: string): string[] {
  return line.split(delimiter).map((c) => {
    const t = c.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).trim() : t;
  });
}

function parseNumber(cell: string): number {
  // Number('') is 0 and Number('Infinity') is finite-looking input we do not want.
  if (cell === '') return Number.NaN;
  const v = Number(cell);
  return Number.isFinite(v) ? v : Number.NaN;
}

/**
 * Parses a numeric CSV (comma, tab or semicolon separated, as seen on the first line). A first line
 * with any non-numeric cell is a header. Every data cell must be a finite number.
 */
export function parseCsv(text: string, file: string): CsvTable {
  const lines = text.split(/\r?\n/);
  let first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) throw new ShrinkError('INVALID_DATA', `${file}: no rows; expected numeric columns with the label last`);
  const firstLine = lines[first] as string;
  const delimiter = firstLine.includes(',') ? ',' : firstLine.includes('\t') ? '\t' : firstLine.includes(';') ? ';' : ',';
  const firstCells = splitLine(firstLine, delimiter);
  const cols = firstCells.length;
  let header: string[] | undefined;
  if (firstCells.some((c) => Number.isNaN(parseNumber(c)))) {
    header = firstCells;
    first++;
  }
  const values: number[] = [];
  const lineNos: number[] = [];
  for (let li = first; li < lines.length; li++) {
    const line = lines[li] as string;
    if (line.trim() === '') continue;
    const cells = splitLine(line, delimiter);
    if (cells.length !== cols) {
      throw new ShrinkError('INVALID_DATA', `${file}:${li + 1}: ${cells.length} columns, expected ${cols} like the first line`);
    }
    for (let c = 0; c < cols; c++) {
      const v = parseNumber(cells[c] as string);
      if (Number.isNaN(v)) {
        const name = header ? ` ("${header[c]}")` : '';
        throw new ShrinkError('INVALID_DATA', `${file}:${li + 1}: column ${c + 1}${name} is "${cells[c]}", expected a finite number`);
      }
      values.push(v);
    }
    lineNos.push(li + 1);
  }
  if (lineNos.length === 0) throw new ShrinkError('INVALID_DATA', `${file}: a header but no data rows`);
  return {
    file,
    ...(header ? { header } : {}),
    rows: lineNos.length,
    cols,
    values: Float64Array.from(values),
    lines: Int32Array.from(lineNos),
  };
}

function labelColumn(t: CsvTable, label: string | number | undefined): number {
  if (t.cols < 2) throw new ShrinkError('INVALID_DATA', `${t.file}: ${t.cols} column; need at least one feature and a label`);
  if (label === undefined) return t.cols - 1;
  if (typeof label === 'number') {
    const c = label < 0 ? t.cols + label : label;
    if (!Number.isInteger(label) || c < 0 || c >= t.cols) {
      throw new ShrinkError('INVALID_ARGUMENT', `label column ${label} does not exist in ${t.file}: valid are -${t.cols}..${t.cols - 1}`);
    }
    return c;
  }
  const c = t.header?.indexOf(label) ?? -1;
  if (c < 0) {
    const names = t.header ? `columns are ${t.header.join(', ')}` : 'the file has no header line; give the column index';
    throw new ShrinkError('INVALID_ARGUMENT', `label column "${label}" not found in ${t.file}: ${names}`);
  }
  return c;
}

/** Features are every column but the label, in file order; samples have shape [cols - 1]. */
export function csvToDataset(t: CsvTable, opts: CsvDatasetOptions = {}): Dataset {
  const lc = labelColumn(t, opts.label);
  const nf = t.cols - 1;
  const x = new Float32Array(t.rows * nf);
  const labels = new Float64Array(t.rows);
  for (let r = 0; r < t.rows; r++) {
    let k = r * nf;
    for (let c = 0; c < t.cols; c++) {
      const v = t.values[r * t.cols + c] as number;
      if (c === lc) labels[r] = v;
      else x[k++] = v;
    }
  }
  const fewClasses = areClassIndices(labels) && countDistinct(labels) <= Math.min(MAX_AUTO_CLASSES, Math.max(2, t.rows / 2));
  const task = chooseTask(opts.task, fewClasses);
  const name = opts.name ?? t.file;
  if (task === 'classification') {
    const { y, numClasses } = toClassIndices(labels, t.file, (i) => `${t.file}:${t.lines[i]}`);
    return createDataset({ name, task, sampleShape: [nf], x, y, numClasses: opts.numClasses ?? numClasses });
  }
  return createDataset({ name, task, sampleShape: [nf], x, y: Float32Array.from(labels), targetSize: 1 });
}

/** Loads a .csv or .csv.gz file (see parseCsv and csvToDataset). */
export async function loadCsv(file: string, opts: CsvDatasetOptions = {}): Promise<Dataset> {
  const text = (await readDataFile(file)).toString('utf8');
  return csvToDataset(parseCsv(text, file), opts);
}

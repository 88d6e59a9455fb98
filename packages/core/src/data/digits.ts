import { fileURLToPath } from 'node:url';
import { ShrinkError } from '../errors.js';
import { reshapeDataset } from './dataset-ops.js';
import type { Dataset } from './dataset.js';
import { csvToDataset, parseCsv } from './csv.js';
import { readDataFile } from './read-data-file.js';

/**
 * The vendored UCI "Optical Recognition of Handwritten Digits" test set (E. Alpaydin, C. Kaynak;
 * CC BY 4.0): 1,797 8x8 images of 0..16 counts, labels 0..9. Resolved through the package's own
 * exports, so it is found from src/ (tsx), dist/ and from the CLI's bundle, which lives elsewhere.
 */
export const DIGITS_FILE = fileURLToPath(import.meta.resolve('@shrink/core/assets/digits/digits.csv.gz'));

export interface DigitsOptions {
  /** 'flat' gives samples of shape [64]; 'image' the same values as [8, 8, 1] (NHWC). */
  shape?: 'flat' | 'image';
  /** Read from another copy of digits.csv(.gz). */
  file?: string;
}

/** All 1,797 digits in file order, pixels scaled to [0, 1] (divided by 16). */
export async function loadDigits(opts: DigitsOptions = {}): Promise<Dataset> {
  const file = opts.file ?? DIGITS_FILE;
  const table = parseCsv((await readDataFile(file)).toString('utf8'), file);
  if (table.cols !== 65) {
    throw new ShrinkError('INVALID_DATA', `${file}: ${table.cols} columns; digits rows are 64 pixels then the label`);
  }
  const flat = csvToDataset(table, { name: 'digits', task: 'classification', numClasses: 10 });
  const x = flat.x;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) / 16;
  return opts.shape === 'image' ? reshapeDataset(flat, [8, 8, 1]) : flat;
}

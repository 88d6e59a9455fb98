/**
 * Token sequences for language-model evaluation: a tokens file (`{"input_ids": [[...], ...]}`, the tensors
 * a tokenizer returns with padding, optionally with `attention_mask`), or a text file tokenized offline
 * with a `tokenizer.json` (Hugging Face's pure-JS tokenizers; no network: the file is read here).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { fsError } from '../io/fs-error.js';
import { readDataFile } from './read-data-file.js';

/** Documents as token ids: one row each (padding already dropped); windows never cross rows. */
export interface TokenRows {
  /** Where the tokens came from, for messages ('valid.txt via tokenizer.json'). */
  readonly name: string;
  /** The file, and the key its ids came from, for errors about a particular id ('f.json: input_ids'). */
  readonly source: string;
  readonly rows: readonly Int32Array[];
  /** Position of each row in the file (`input_ids[i]`), for messages. */
  readonly rowIndex: readonly number[];
  /** The largest id, checked against the model's vocabulary before anything runs. */
  readonly maxId: number;
  /** Where the largest id is (`input_ids[2][17]`). */
  readonly maxAt: string;
}

/** What is used of @huggingface/tokenizers' Tokenizer. */
type TokenizerClass = new (json: object, config: object) => { encode(text: string): { ids: (number | undefined)[]; tokens: string[] } };

const bad = (message: string, option: string) => new ShrinkError('INVALID_DATA', message, { option });

function parseJson(raw: Buffer, file: string, option: string): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw bad(`${file} is not JSON (${(e as Error).message}); expected {"input_ids": [[id, ...], ...]}`, option);
  }
}

/** A 2-D array of non-negative integers under `key`, every row as long as the first. */
function intMatrix(v: unknown, key: string, file: string, option: string, ids: boolean): number[][] {
  const shape = `expected {"input_ids": [[id, ...], ...]}, rows of equal length (pad them and give attention_mask)`;
  if (!Array.isArray(v) || v.length === 0)
    throw bad(`${file}: ${key} is ${v === undefined ? 'missing' : 'not a non-empty array'}; ${shape}`, option);
  // One flat row is one document: [1, 2, 3] reads as [[1, 2, 3]].
  const rows = (v.every((x) => typeof x === 'number') ? [v] : v) as unknown[];
  const width = Array.isArray(rows[0]) ? rows[0].length : -1;
  rows.forEach((row, i) => {
    if (!Array.isArray(row)) throw bad(`${file}: ${key}[${i}] is ${JSON.stringify(row)}, not a row of token ids; ${shape}`, option);
    if (row.length !== width)
      throw bad(
        `${file}: ${key}[${i}] has ${row.length} ids but ${key}[0] has ${width}; ${key} rows must be of equal length (pad them and mark the padding with 0 in attention_mask)`,
        option,
      );
    row.forEach((x, j) => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || (!ids && x > 1) || x > 0x7fffffff)
        throw bad(
          `${file}: ${key}[${i}][${j}] is ${JSON.stringify(x)}; expected ${ids ? 'a token id (an integer >= 0)' : '0 or 1'}`,
          option,
        );
    });
  });
  return rows as number[][];
}

function finish(name: string, source: string, rows: Int32Array[], rowIndex: number[], option: string): TokenRows {
  let maxId = -1;
  let maxAt = '';
  rows.forEach((r, i) => {
    for (let j = 0; j < r.length; j++)
      if (r[j]! > maxId) {
        maxId = r[j]!;
        maxAt = `[${rowIndex[i]}][${j}]`;
      }
  });
  const scored = rows.reduce((s, r) => s + Math.max(r.length - 1, 0), 0);
  if (scored === 0)
    throw bad(`${source} holds no token with one before it to predict it from; an LM score needs rows of 2 or more tokens`, option);
  return { name, source, rows, rowIndex, maxId, maxAt };
}

/**
 * A tokens file: `input_ids` rows of equal length, and optionally `attention_mask` of the same shape whose
 * 0s mark padding (dropped here). `option` is the option errors name (the CLI's --tokens).
 */
export async function readTokensFile(file: string, option = 'tokens'): Promise<TokenRows> {
  const doc = parseJson(await readDataFile(file), file, option);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw bad(
      `${file}: expected an object {"input_ids": [[id, ...], ...]}, got ${Array.isArray(doc) ? 'an array' : JSON.stringify(doc)}`,
      option,
    );
  const o = doc as Record<string, unknown>;
  const ids = intMatrix(o['input_ids'], 'input_ids', file, option, true);
  const mask = o['attention_mask'] === undefined ? undefined : intMatrix(o['attention_mask'], 'attention_mask', file, option, false);
  if (mask && (mask.length !== ids.length || mask[0]!.length !== ids[0]!.length))
    throw bad(
      `${file}: attention_mask is ${mask.length}x${mask[0]!.length} but input_ids is ${ids.length}x${ids[0]!.length}; they must match`,
      option,
    );
  const rows: Int32Array[] = [];
  const rowIndex: number[] = [];
  ids.forEach((r, i) => {
    const m = mask?.[i];
    const kept = m ? r.filter((_, j) => m[j] === 1) : r;
    if (kept.length === 0) return;
    rows.push(Int32Array.from(kept));
    rowIndex.push(i);
  });
  return finish(path.basename(file), `${file}: input_ids`, rows, rowIndex, option);
}

async function readJsonObject(file: string, option: string, what: string): Promise<Record<string, unknown>> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (e) {
    throw fsError(e, `read ${what}`, file);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw bad(`${file} is not JSON (${(e as Error).message}); expected a Hugging Face ${what}`, option);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw bad(`${file}: expected a JSON object (a Hugging Face ${what})`, option);
  return doc as Record<string, unknown>;
}

/**
 * A text file tokenized with a Hugging Face `tokenizer.json` (and `tokenizer_config.json` beside it, when
 * there is one). The whole text is one row, special tokens included as the tokenizer adds them (a BOS for
 * Llama-style tokenizers), as llama.cpp's perplexity tool reads a text file.
 */
export async function tokenizeTextFile(textFile: string, tokenizerFile: string, option = 'text'): Promise<TokenRows> {
  const json = await readJsonObject(tokenizerFile, 'tokenizer', 'tokenizer.json');
  if (typeof json['model'] !== 'object' || json['model'] === null)
    throw bad(`${tokenizerFile}: no "model" object; expected a Hugging Face tokenizer.json (tokenizers' save format)`, 'tokenizer');
  const configFile = path.join(path.dirname(tokenizerFile), 'tokenizer_config.json');
  const config = await readJsonObject(configFile, 'tokenizer', 'tokenizer_config.json').catch(() => ({}));
  let text: string;
  try {
    text = await readFile(textFile, 'utf8');
  } catch (e) {
    throw fsError(e, 'read text file', textFile);
  }
  // Loaded here only: most commands never tokenize. The package's .d.ts files import without extensions,
  // which NodeNext resolution cannot follow, so the little used here is typed locally.
  const { Tokenizer } = (await import('@huggingface/tokenizers')) as unknown as { Tokenizer: TokenizerClass };
  let ids: (number | undefined)[];
  let tokens: string[];
  try {
    const enc = new Tokenizer(json, config).encode(text);
    ids = enc.ids;
    tokens = enc.tokens;
  } catch (e) {
    throw bad(`${tokenizerFile}: the tokenizer failed on ${textFile}: ${(e as Error).message}`, 'tokenizer');
  }
  const unknown = ids.findIndex((id) => typeof id !== 'number' || !Number.isInteger(id) || id < 0);
  if (unknown >= 0)
    throw bad(
      `${tokenizerFile}: token ${JSON.stringify(tokens[unknown])} (token ${unknown} of ${textFile}) has no id in the vocabulary and the tokenizer has no usable unk_token`,
      'tokenizer',
    );
  const row = Int32Array.from(ids as number[]);
  return finish(`${path.basename(textFile)} via ${path.basename(tokenizerFile)}`, `${textFile} (tokenized)`, [row], [0], option);
}

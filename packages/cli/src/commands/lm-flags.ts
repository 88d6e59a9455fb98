import type { Argv } from 'yargs';
import { checkFloors, DEFAULT_FLOORS, metric, ShrinkError, type CandidateReport, type FidelityFloors } from '@shrink/core';
import type { TokenRows } from '@shrink/core/data';
import type { LmEvalOptions, LmEvalResult } from '@shrink/core/runtime';

/** The language-model data and windowing flags of `eval --task lm` and `compare`. */
export function lmFlags<T>(y: Argv<T>) {
  return y
    .option('tokens', {
      type: 'string',
      describe: 'LM evaluation: a tokens file {"input_ids": [[id, ...], ...]} (optionally attention_mask, 0 on padding)',
    })
    .option('text', { type: 'string', describe: 'LM evaluation: a text file, tokenized with --tokenizer' })
    .option('tokenizer', {
      type: 'string',
      describe: 'A Hugging Face tokenizer.json for --text (read offline; tokenizer_config.json beside it is used when present)',
    })
    .option('context', { type: 'number', describe: "Tokens per window (default: the model's fixed sequence length, else 128)" })
    .option('stride', { type: 'number', describe: 'Tokens between window starts (default context / 2); each token is scored once' })
    .option('max-windows', { type: 'number', describe: 'Score only the first N windows' })
    .option('max-seconds', { type: 'number', describe: 'Start no new window after this many seconds (the result says it stopped)' });
}

interface LmArgs {
  tokens?: string | undefined;
  text?: string | undefined;
  tokenizer?: string | undefined;
  context?: number | undefined;
  stride?: number | undefined;
  maxWindows?: number | undefined;
  maxSeconds?: number | undefined;
  threads?: number | undefined;
}

/** Whether any LM data flag was given. */
export function wantsLm(argv: LmArgs): boolean {
  return argv.tokens !== undefined || argv.text !== undefined;
}

/** The token rows the flags name (a tokens file, or text through a tokenizer.json); one line naming the flag when they do not fit. */
export async function lmTokens(argv: LmArgs): Promise<TokenRows> {
  const { readTokensFile, tokenizeTextFile } = await import('@shrink/core/data');
  if (argv.tokens !== undefined && argv.text !== undefined)
    throw new ShrinkError('INVALID_ARGUMENT', 'give a tokens file or a text file (with --tokenizer), not both', { option: 'text' });
  if (argv.tokens !== undefined) {
    if (argv.tokenizer !== undefined)
      throw new ShrinkError('INVALID_ARGUMENT', 'a tokenizer goes with --text; a tokens file is already tokenized', {
        option: 'tokenizer',
      });
    return readTokensFile(argv.tokens, 'tokens');
  }
  if (argv.text === undefined)
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      'LM evaluation needs --tokens FILE ({"input_ids": [[...]]}) or --text FILE --tokenizer tokenizer.json',
      { option: 'tokens' },
    );
  if (argv.tokenizer === undefined)
    throw new ShrinkError('INVALID_ARGUMENT', `${argv.text} is text: name the tokenizer.json that tokenizes it for the model`, {
      option: 'tokenizer',
    });
  return tokenizeTextFile(argv.text, argv.tokenizer, 'text');
}

export function lmOptions(argv: LmArgs): LmEvalOptions {
  if (argv.maxSeconds !== undefined && !(argv.maxSeconds > 0))
    throw new ShrinkError('INVALID_ARGUMENT', `expected a positive number of seconds, got ${argv.maxSeconds}`, { option: 'maxSeconds' });
  return {
    ...(argv.context !== undefined ? { context: argv.context } : {}),
    ...(argv.stride !== undefined ? { stride: argv.stride } : {}),
    ...(argv.maxWindows !== undefined ? { maxWindows: argv.maxWindows } : {}),
    ...(argv.maxSeconds !== undefined ? { budgetSeconds: argv.maxSeconds } : {}),
    ...(argv.threads !== undefined ? { threads: argv.threads } : {}),
  };
}

/**
 * The LM rows of a comparison added to the candidate's report, and its guard judged on them too: a failed
 * LM floor fails the guard; LM rows judge a candidate that synthetic feeds could not.
 */
export function addLmRows(cand: CandidateReport, r: LmEvalResult, floors: FidelityFloors = DEFAULT_FLOORS): void {
  const c = r.comparison;
  if (c === undefined) return;
  const method = r.method + (r.stopped !== undefined ? `; ${r.stopped}` : '');
  cand.metrics['lm.perplexity'] = metric('lm.perplexity', c.baseline.perplexity, c.candidate.perplexity, { method });
  cand.metrics['lm.meanKL'] = metric('lm.meanKL', undefined, c.meanKL, { method });
  cand.metrics['lm.top1Agreement'] = metric('lm.top1Agreement', undefined, c.top1Agreement, { method });
  const lm = checkFloors({ 'lm.perplexity': cand.metrics['lm.perplexity'], 'lm.top1Agreement': cand.metrics['lm.top1Agreement'] }, floors);
  const g = cand.guard;
  if (g === undefined) {
    cand.guard = lm;
    return;
  }
  const failures = [...g.failures, ...lm.failures];
  cand.guard = { passed: failures.length === 0, failures, floors: g.floors, checked: [...g.checked, ...lm.checked] };
}

// Types of inputs.mjs for the TypeScript bench and tests.
import type { CorpusEntry } from './fetch.mjs';
export function feedsPath(id: string): string;
export function samplesDir(id: string): string;
export function sampleFiles(id: string): string[];
export function makeInputs(entries: readonly CorpusEntry[]): Promise<void>;

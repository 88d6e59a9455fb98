// Types of fetch.mjs for the TypeScript bench and tests.
export interface CorpusEntry {
  id: string;
  package: string;
  version: string;
  tarballSha256: string;
  licence: string;
  paths: string[];
  modelSha256: string;
  kind: string;
  framework: string;
  opset: number;
  inputs: string;
  large?: boolean;
  notes?: string;
}
export const ROOT: string;
export const CACHE: string;
export const EXIT_UNREACHABLE: number;
export class Unreachable extends Error {}
export function runScript(say: (msg: string) => void, work: () => unknown): Promise<void>;
export function loadCorpus(): CorpusEntry[];
export function modelPath(id: string): string;
export function untar(tgz: Buffer): Map<string, Buffer>;
export function fetchModels(entries: readonly CorpusEntry[]): void;
export function selectEntries(args: readonly string[], env?: Record<string, string | undefined>): CorpusEntry[];

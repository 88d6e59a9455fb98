/**
 * One error type for everything Shrink refuses. The `code` decides the CLI's exit status;
 * the message must name the file, key, node or tensor at fault and say what would be valid.
 */
export type ShrinkErrorCode =
  | 'INVALID_MODEL'
  | 'UNSUPPORTED_OP'
  | 'UNSUPPORTED_MODEL'
  | 'INVALID_CONFIG'
  | 'INVALID_ARGUMENT'
  | 'INVALID_DATA'
  | 'IO'
  | 'NOT_FOUND'
  | 'UNSAFE_PATH'
  | 'CALIBRATION_EMPTY'
  | 'RUNTIME'
  | 'GATE_FAILED'
  /** A candidate fails the fidelity guard (report/guard.ts): exit 2, nothing written unless allowed. */
  | 'DEGRADED';

export interface ShrinkErrorOptions {
  cause?: unknown;
  /**
   * The option at fault, as the schema names it (`calibData`). Front ends name it their way: the CLI
   * as a flag (`--calib-data`), a pipeline as a config path (`steps[2].quantize.calibData`).
   */
  option?: string;
  /** Replaces the message's default subject (the option, else none): a file, a key path, a node. */
  subject?: string;
  /** The data the run lacks, which front ends name their way (`--data`, `data.train`). */
  missing?: 'train' | 'calibration' | 'eval';
}

/**
 * The message says what is wrong and what would be valid, never in one front end's words (no flag
 * names): `detail` is that, and `message` puts the subject in front of it for library callers.
 */
export class ShrinkError extends Error {
  override readonly name = 'ShrinkError';
  readonly code: ShrinkErrorCode;
  readonly option?: string;
  /** What the message is about (a key path, a flag, a file), put in front of the detail. */
  readonly subject?: string;
  /** The message without its subject. */
  readonly detail: string;
  readonly missing?: 'train' | 'calibration' | 'eval';

  constructor(code: ShrinkErrorCode, message: string, options?: ShrinkErrorOptions) {
    const subject = options?.subject ?? options?.option;
    super(subject !== undefined ? `${subject}: ${message}` : message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.detail = message;
    if (subject !== undefined) this.subject = subject;
    if (options?.option !== undefined) this.option = options.option;
    if (options?.missing !== undefined) this.missing = options.missing;
  }
}

/** The same error with its option named another way (a flag, a config path); errors without an option pass through. */
export function renameOption(e: unknown, name: (option: string) => string): unknown {
  if (!(e instanceof ShrinkError) || e.option === undefined) return e;
  return new ShrinkError(e.code, e.detail, {
    cause: e,
    option: e.option,
    subject: name(e.option),
    ...(e.missing ? { missing: e.missing } : {}),
  });
}

export function isShrinkError(e: unknown): e is ShrinkError {
  return e instanceof ShrinkError;
}

/** Exit status the CLI uses for an error: 1 for a failed gate, 2 for bad input or usage. */
export function exitCodeFor(e: unknown): 1 | 2 {
  return isShrinkError(e) && e.code === 'GATE_FAILED' ? 1 : 2;
}

/** Throws INVALID_ARGUMENT unless `cond` holds; keeps argument checks to one line each. */
export function check(cond: unknown, code: ShrinkErrorCode, message: string): asserts cond {
  if (!cond) throw new ShrinkError(code, message);
}

/**
 * Concrete dims for model inputs whose shapes are symbolic: what synthetic feeds are built with and what
 * MACs are counted at. A symbolic dim is never guessed silently: every value chosen is returned by name,
 * so reports can say "at batch_size=1, sequence_length=16".
 */

/** An input as the model declares it: numbers are fixed dims; strings symbolic ('' or undefined: unnamed). */
export interface DeclaredInput {
  readonly name: string;
  /** 'float32', 'int64', … (onnxruntime's names). */
  readonly type?: string;
  readonly shape?: readonly (number | string | undefined)[];
}

export interface DimDefaults {
  /** Axis 0 of every input (1). */
  readonly batch?: number;
  /** Token, frame and time axes (16). */
  readonly sequence?: number;
  /** Cached past steps: past_sequence_length and the like (4). */
  readonly past?: number;
  /** Height and width of an image input (224, a multiple of 32 as detection backbones need). */
  readonly spatial?: number;
  /** The length of a [batch, samples] float input: audio (512, a chunk voice-activity models take at 16 kHz). */
  readonly samples?: number;
  /** Values for named symbolic dims that override every rule ("sequence_length" → 128). */
  readonly symbols?: Readonly<Record<string, number>>;
}

export interface ChosenDims {
  /** Input name → concrete dims. */
  readonly dims: Readonly<Record<string, readonly number[]>>;
  /** Every symbolic dim that was given a value: its name (or input[axis] when unnamed) → value. */
  readonly assumed: Readonly<Record<string, number>>;
}

const SEQUENCE = /seq|len|time|token|frame|step|word|char|^t$|^s$|^l$|^n_ctx/i;
const PAST = /past|cache|prev|history/i;
const SUM = /^\s*([A-Za-z_][\w.]*|\d+)\s*\+\s*([A-Za-z_][\w.]*|\d+)\s*$/;

const isFixed = (d: number | string | undefined): d is number => typeof d === 'number' && d >= 0;

/** An image input: rank 4 with 1–4 channels first (NCHW) or last (NHWC). */
function imageAxes(shape: readonly (number | string | undefined)[], type: string | undefined): readonly number[] {
  if (shape.length !== 4 || (type !== undefined && !type.startsWith('float'))) return [];
  const small = (d: number | string | undefined) => isFixed(d) && d >= 1 && d <= 4;
  if (small(shape[1])) return [2, 3];
  if (small(shape[3])) return [1, 2];
  return [];
}

function ruleFor(input: DeclaredInput, axis: number, symbol: string, d: Required<Omit<DimDefaults, 'symbols'>>): number {
  if (axis === 0) return d.batch;
  if (symbol !== '' && PAST.test(symbol)) return d.past;
  if (PAST.test(input.name) && axis === (input.shape?.length ?? 0) - 2) return d.past;
  if (imageAxes(input.shape ?? [], input.type).includes(axis)) return d.spatial;
  // A float [batch, N] input with N open is a waveform (or a feature vector): a handful of values is no audio.
  if (axis === 1 && input.shape?.length === 2 && (input.type === undefined || input.type.startsWith('float'))) return d.samples;
  if (symbol !== '' && SEQUENCE.test(symbol)) return d.sequence;
  // Integer inputs of rank 2 are token ids, masks and types: [batch, sequence].
  if (symbol === '' && axis === 1 && (input.shape?.length ?? 0) === 2 && input.type?.startsWith('int')) return d.sequence;
  return 1;
}

/**
 * Chooses a value for every symbolic dim of `inputs`. The same symbol gets the same value everywhere
 * (input_ids and attention_mask share sequence_length); a symbol "a + b" (past_sequence_length + 1, as
 * exporters write for masks over the past) is the sum of its parts.
 */
export function chooseInputDims(inputs: readonly DeclaredInput[], defaults: DimDefaults = {}): ChosenDims {
  const d = {
    batch: defaults.batch ?? 1,
    sequence: defaults.sequence ?? 16,
    past: defaults.past ?? 4,
    spatial: defaults.spatial ?? 224,
    samples: defaults.samples ?? 512,
  };
  const bySymbol = new Map<string, number>(Object.entries(defaults.symbols ?? {}));
  const assumed: Record<string, number> = {};
  const resolve = (symbol: string, input: DeclaredInput, axis: number): number => {
    const known = bySymbol.get(symbol);
    if (known !== undefined) return known;
    const sum = SUM.exec(symbol);
    if (sum) {
      const part = (p: string) => (/^\d+$/.test(p) ? Number(p) : resolve(p, input, axis));
      const v = part(sum[1]!) + part(sum[2]!);
      bySymbol.set(symbol, v);
      return v;
    }
    const v = ruleFor(input, axis, symbol, d);
    if (symbol !== '') bySymbol.set(symbol, v);
    return v;
  };
  const dims: Record<string, number[]> = {};
  // Plain symbols first, so "past + sequence" sums parts that other inputs named on their own.
  const order = [...inputs].sort((a, b) => sumCount(a) - sumCount(b));
  for (const input of order) {
    dims[input.name] = (input.shape ?? []).map((dim, axis) => {
      if (isFixed(dim)) return dim;
      const symbol = typeof dim === 'string' ? dim : '';
      const v = resolve(symbol, input, axis);
      assumed[symbol !== '' ? symbol : `${input.name}[${axis}]`] = v;
      return v;
    });
  }
  return { dims: Object.fromEntries(inputs.map((i) => [i.name, dims[i.name]!])), assumed };
}

const sumCount = (i: DeclaredInput) => (i.shape ?? []).filter((s) => typeof s === 'string' && SUM.test(s)).length;

/** "batch_size=1, sequence_length=16": the assumptions behind a count or a feed, for reports. */
export function describeAssumed(assumed: Readonly<Record<string, number>>): string {
  return Object.entries(assumed)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

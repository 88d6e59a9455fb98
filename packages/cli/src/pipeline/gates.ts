/**
 * Gates: expressions such as `accuracy.delta >= -0.01` over the metrics of a report, evaluated with
 * mathjs's expression parser in a locked-down instance. A gate comes from a config file that may be
 * someone else's pull request, so it is treated as hostile: the parsed tree is walked before anything is
 * evaluated, and only numbers, booleans, operators, a few pure functions and known metric names pass.
 * The instance's dangerous functions (import, evaluate, parse, ...) are replaced by throwing ones as
 * mathjs's security docs describe, in case something slips past the walk.
 */
import { isShrinkError, METRICS, ShrinkError, type CandidateReport, type GateResult } from '@shrink/core';
import type { MathNode } from 'mathjs';

export const METRIC_FIELDS = ['baseline', 'candidate', 'delta', 'ratio'] as const;
export type MetricField = (typeof METRIC_FIELDS)[number];

/** Short names the issue's examples use for the metric keys they stand for. */
export const METRIC_ALIASES: Readonly<Record<string, string>> = {
  size: 'size.bytes',
  energy: 'energy.perInference',
  co2e: 'co2e.perMillion',
  latency: 'latency.p50',
};

const FUNCTIONS = new Set(['abs', 'min', 'max', 'round', 'floor', 'ceil']);
const OPERATORS = new Set([
  'add',
  'subtract',
  'multiply',
  'divide',
  'unaryMinus',
  'unaryPlus',
  'pow',
  'larger',
  'largerEq',
  'smaller',
  'smallerEq',
  'equal',
  'unequal',
  'and',
  'or',
  'not',
  'xor',
]);
const DISABLED = [
  'import',
  'createUnit',
  'reviver',
  'evaluate',
  'parse',
  'simplify',
  'simplifyConstant',
  'simplifyCore',
  'derivative',
  'compile',
  'resolve',
  'rationalize',
  'parser',
  'chain',
];

export interface CompiledGate {
  expression: string;
  /** Metric values the expression reads, canonical `<metric key>.<field>` names in order of use. */
  names: string[];
  /** Evaluates with one number per name (same order); throws when the result is not a boolean. */
  run(values: readonly number[]): boolean;
}

interface Locked {
  parse: (expr: string) => MathNode;
  SymbolNode: new (name: string) => MathNode;
}

let locked: Promise<Locked> | undefined;

/** mathjs costs ~1.5 s to import: loaded on the first gate only. */
function lockedMath(): Promise<Locked> {
  locked ??= (async () => {
    const { create, all } = await import('mathjs');
    const math = create(all!, { number: 'number' });
    const parse = math.parse.bind(math) as (expr: string) => MathNode;
    const refuse = (name: string) => () => {
      throw new Error(`${name} is disabled in gates`);
    };
    math.import(Object.fromEntries(DISABLED.map((n) => [n, refuse(n)])), { override: true });
    return { parse, SymbolNode: math.SymbolNode as unknown as Locked['SymbolNode'] };
  })();
  return locked;
}

/** `size.ratio` -> ['size.bytes', 'ratio']; undefined when the name is not a metric. */
export function resolveMetricName(
  name: string,
  known: ReadonlySet<string> = new Set(Object.keys(METRICS)),
): [string, MetricField] | undefined {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const field = name.slice(dot + 1);
  if (!(METRIC_FIELDS as readonly string[]).includes(field)) return undefined;
  const key = name.slice(0, dot);
  const canonical = known.has(key) ? key : Object.hasOwn(METRIC_ALIASES, key) ? METRIC_ALIASES[key] : undefined;
  return canonical !== undefined && known.has(canonical) ? [canonical, field as MetricField] : undefined;
}

/** The dotted name an accessor chain spells (`latency.p50.ratio`), or why it is not one. */
function dottedName(node: MathNode): string | { error: string } {
  if (node.type === 'SymbolNode') return (node as unknown as { name: string }).name;
  if (node.type !== 'AccessorNode') return { error: `${node.type} cannot start a name` };
  const a = node as unknown as { object: MathNode; index: { dotNotation: boolean; dimensions: MathNode[] } };
  const dim = a.index.dimensions[0];
  if (!a.index.dotNotation || a.index.dimensions.length !== 1 || dim?.type !== 'ConstantNode')
    return { error: 'only dot notation (accuracy.delta) reads a metric' };
  const inner = dottedName(a.object);
  return typeof inner === 'string' ? `${inner}.${String((dim as unknown as { value: unknown }).value)}` : inner;
}

class GateSyntaxError extends Error {}

const BOOLEAN_OPERATORS = new Set(['larger', 'largerEq', 'smaller', 'smallerEq', 'equal', 'unequal', 'and', 'or', 'not', 'xor']);

/** Whether a node gives true/false whatever the metric values: a comparison, logic, a boolean constant, or a conditional of those. */
function isVerdict(node: MathNode): boolean {
  switch (node.type) {
    case 'ParenthesisNode':
      return isVerdict((node as unknown as { content: MathNode }).content);
    case 'ConstantNode':
      return typeof (node as unknown as { value: unknown }).value === 'boolean';
    case 'OperatorNode':
      return BOOLEAN_OPERATORS.has((node as unknown as { fn: string }).fn);
    case 'ConditionalNode': {
      const c = node as unknown as { trueExpr: MathNode; falseExpr: MathNode };
      return isVerdict(c.trueExpr) && isVerdict(c.falseExpr);
    }
    default:
      return false;
  }
}

function hint(name: string): string {
  const key = name.split('.')[0] ?? name;
  if (name.split('.').length === 1 && (Object.hasOwn(METRICS, key) || Object.hasOwn(METRIC_ALIASES, key))) {
    return `${name} needs a field: ${METRIC_FIELDS.map((f) => `${name}.${f}`).join(', ')}`;
  }
  return `${name} is not a metric; use <metric>.<baseline|candidate|delta|ratio> with a metric of ${Object.keys(METRICS).join(', ')} (or size, latency, energy, co2e)`;
}

/** Walks the tree, refusing anything but arithmetic, comparisons, logic, a few functions and metric names. */
function check(node: MathNode, names: string[]): void {
  switch (node.type) {
    case 'ConstantNode': {
      const v = (node as unknown as { value: unknown }).value;
      if (typeof v !== 'number' && typeof v !== 'boolean')
        throw new GateSyntaxError(`constant ${JSON.stringify(v)} is not allowed; gates use numbers`);
      return;
    }
    case 'ParenthesisNode': {
      check((node as unknown as { content: MathNode }).content, names);
      return;
    }
    case 'OperatorNode': {
      const o = node as unknown as { fn: string; op: string; args: MathNode[] };
      if (!OPERATORS.has(o.fn)) throw new GateSyntaxError(`operator ${o.op} is not allowed`);
      for (const a of o.args) check(a, names);
      return;
    }
    case 'ConditionalNode': {
      const c = node as unknown as { condition: MathNode; trueExpr: MathNode; falseExpr: MathNode };
      for (const a of [c.condition, c.trueExpr, c.falseExpr]) check(a, names);
      return;
    }
    case 'FunctionNode': {
      const f = node as unknown as { fn: MathNode; args: MathNode[] };
      const fname = f.fn.type === 'SymbolNode' ? (f.fn as unknown as { name: string }).name : undefined;
      if (fname === undefined || !FUNCTIONS.has(fname)) {
        throw new GateSyntaxError(`calling ${fname ?? 'an expression'} is not allowed; functions: ${[...FUNCTIONS].join(', ')}`);
      }
      for (const a of f.args) check(a, names);
      return;
    }
    case 'SymbolNode':
    case 'AccessorNode': {
      const name = dottedName(node);
      if (typeof name !== 'string') throw new GateSyntaxError(name.error);
      const m = resolveMetricName(name);
      if (!m) throw new GateSyntaxError(hint(name));
      names.push(`${m[0]}.${m[1]}`);
      return;
    }
    case 'AssignmentNode':
    case 'FunctionAssignmentNode':
      throw new GateSyntaxError(
        'assignments and function definitions are not allowed; a gate compares metrics, e.g. accuracy.delta >= -0.01',
      );
    default:
      throw new GateSyntaxError(`${node.type} is not allowed in a gate`);
  }
}

export const MAX_GATE_LENGTH = 500;
export const MAX_GATE_DEPTH = 32;

/** The expression quoted for a message, cut to about 80 characters. */
export function quoteGate(expression: string): string {
  return JSON.stringify(expression.length > 80 ? `${expression.slice(0, 77)}...` : expression);
}

/** Deepest run of brackets or prefix operators (-, +, !, not) before any parsing. */
function nestingDepth(expression: string): number {
  let depth = 0;
  let max = 0;
  for (const ch of expression) {
    if (ch === '(' || ch === '[' || ch === '{') max = Math.max(max, ++depth);
    else if (ch === ')' || ch === ']' || ch === '}') depth = Math.max(0, depth - 1);
  }
  const prefix = Math.max(0, ...Array.from(expression.matchAll(/(?:(?:[-+!]|\bnot\b)\s*){2,}/g), (m) => m[0].replace(/\s|ot/g, '').length));
  return Math.max(max, prefix);
}

/**
 * Parses and checks one gate; `where` names it in errors (e.g. `shrink.config.yaml: gates[1]`).
 * Throws INVALID_CONFIG, one line, for bad syntax or anything outside the allowed language.
 */
export async function compileGate(expression: string, where: string): Promise<CompiledGate> {
  const fail = (why: string) => new ShrinkError('INVALID_CONFIG', `${where} ${quoteGate(expression)}: ${why}`);
  // mathjs's parser and the walks below recurse per level: a huge or deeply nested gate would overflow the stack.
  if (expression.length > MAX_GATE_LENGTH) throw fail(`is ${expression.length} characters long; a gate has at most ${MAX_GATE_LENGTH}`);
  const depth = nestingDepth(expression);
  if (depth > MAX_GATE_DEPTH) throw fail(`nests ${depth} levels deep; a gate nests at most ${MAX_GATE_DEPTH}`);
  try {
    return await compileChecked(expression, fail);
  } catch (e) {
    if (isShrinkError(e)) throw e;
    throw fail(
      e instanceof RangeError
        ? 'too deeply nested to parse'
        : `cannot be compiled (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`,
    );
  }
}

async function compileChecked(expression: string, fail: (why: string) => ShrinkError): Promise<CompiledGate> {
  const { parse, SymbolNode } = await lockedMath();
  let tree: MathNode;
  try {
    tree = parse(expression);
  } catch (e) {
    throw fail(`not a valid expression (${(e as Error).message})`);
  }
  const names: string[] = [];
  try {
    check(tree, names);
  } catch (e) {
    if (e instanceof GateSyntaxError) throw fail(e.message);
    throw e;
  }
  const unique = [...new Set(names)];
  if (unique.length === 0) throw fail('reads no metric; a gate compares metrics, e.g. accuracy.delta >= -0.01');
  // The probe below sees one branch of a conditional only: the types are checked on the tree as well.
  if (!isVerdict(tree)) throw fail('gives a number, not true/false (every branch of ? : too); compare with <, <=, >=, >, ==');
  // Every metric read becomes a plain symbol `m<i>`, so evaluation touches nothing but a frozen scope of numbers.
  const rewritten = tree.transform((node) => {
    if (node.type !== 'SymbolNode' && node.type !== 'AccessorNode') return node;
    const name = dottedName(node);
    const m = typeof name === 'string' ? resolveMetricName(name) : undefined;
    if (!m) return node;
    const i = unique.indexOf(`${m[0]}.${m[1]}`);
    return new SymbolNode(`m${i}`);
  });
  const code = rewritten.compile();
  const gate: CompiledGate = {
    expression,
    names: unique,
    run(values) {
      const scope = Object.freeze(Object.fromEntries(values.map((v, i) => [`m${i}`, v])));
      const r: unknown = code.evaluate(scope);
      if (typeof r !== 'boolean')
        throw new ShrinkError(
          'INVALID_CONFIG',
          `gate ${quoteGate(expression)} gives ${typeof r === 'number' ? r : typeof r}, not true/false; compare with <, <=, >=, >, ==`,
        );
      return r;
    },
  };
  // A probe with every metric at 1 catches `accuracy.delta` (a number, not a verdict) before anything runs.
  try {
    gate.run(unique.map(() => 1));
  } catch (e) {
    throw fail(e instanceof ShrinkError ? 'gives a number, not true/false; compare with <, <=, >=, >, ==' : (e as Error).message);
  }
  return gate;
}

/** Compiles every gate of a list; errors name the index. */
export async function compileGates(expressions: readonly string[], where: string): Promise<CompiledGate[]> {
  const out: CompiledGate[] = [];
  for (const [i, e] of expressions.entries()) out.push(await compileGate(e, `${where}gates[${i}]`));
  return out;
}

/** A metric value of a candidate by canonical name, or undefined when the report lacks it. */
function valueOf(metrics: CandidateReport['metrics'], name: string): number | undefined {
  const dot = name.lastIndexOf('.');
  return metrics[name.slice(0, dot)]?.[name.slice(dot + 1) as MetricField];
}

/** Why quality metrics are absent: a classifier has no mse/mae, a regressor no accuracy, neither without data.eval. */
function whyMissing(missing: readonly string[], metrics: CandidateReport['metrics']): string {
  const quality = missing.filter((m) => /^(accuracy|mse|mae)\./.test(m));
  if (quality.length === 0) return 'not in the report';
  if (metrics['accuracy'] !== undefined && quality.every((m) => !m.startsWith('accuracy')))
    return 'the model is a classifier: mse and mae are measured for regression models only';
  if ((metrics['mse'] !== undefined || metrics['mae'] !== undefined) && quality.every((m) => m.startsWith('accuracy')))
    return 'the model is a regressor: accuracy is measured for classifiers only';
  return 'accuracy, mse and mae need data.eval';
}

/** Every gate against one candidate's metrics; a missing metric fails its gate with the reason. */
export function evaluateGates(gates: readonly CompiledGate[], candidate: Pick<CandidateReport, 'name' | 'metrics'>): GateResult[] {
  return gates.map((g) => {
    const values: Record<string, number | null> = {};
    const nums: number[] = [];
    const missing: string[] = [];
    for (const n of g.names) {
      const v = valueOf(candidate.metrics, n);
      values[n] = v ?? null;
      if (v === undefined) missing.push(n);
      else nums.push(v);
    }
    const base = { expression: g.expression, candidate: candidate.name, values };
    if (missing.length > 0)
      return { ...base, passed: false, error: `${missing.join(', ')} not measured (${whyMissing(missing, candidate.metrics)})` };
    try {
      return { ...base, passed: g.run(nums) };
    } catch (e) {
      return { ...base, passed: false, error: e instanceof Error ? e.message : String(e) };
    }
  });
}

/** One line per failed gate: the expression, the values it saw, and why. */
export function describeFailedGate(g: GateResult): string {
  const seen = Object.entries(g.values)
    .map(([k, v]) => `${k} = ${v === null ? 'missing' : Number(v.toPrecision(6))}`)
    .join(', ');
  return `gate failed: ${g.expression} [${g.candidate}] (${seen})${g.error ? `: ${g.error}` : ''}`;
}

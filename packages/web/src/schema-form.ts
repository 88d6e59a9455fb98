/**
 * A pass's options as a form, generated from its zod schema through optionsJsonSchema, the JSON Schema the
 * CLI's flags come from (packages/cli/src/schema-flags.ts): an enum is a select, a boolean a three-way
 * select (default / yes / no), a number a number field, an array a comma-separated field. A field left
 * empty is the schema's default, so the options sent (and written to shrink.config.yaml) are only what
 * was chosen.
 */
import { optionsJsonSchema, type JsonSchemaProp as JsonProp, type Pass } from '@shrink/core';

/**
 * Options that need what the page does not have: data files (calibration, evaluation, training) or a
 * runtime measurement loop the CLI runs around the pass (accuracy fallback, speed guard, fidelity floor).
 */
export const CLI_ONLY = new Set([
  'calibData',
  'explain',
  'maxAccuracyDrop',
  'allowSlower',
  'minCosine',
  'finetune',
  'schedule',
  'epochs',
  'batchSize',
  'lr',
]);

export interface FieldSpec {
  readonly key: string;
  readonly kind: 'enum' | 'boolean' | 'number' | 'string' | 'array';
  readonly choices: string[];
  readonly numeric: boolean;
  readonly defaultValue: unknown;
  readonly description: string;
}

export function fieldsOf(pass: Pass): FieldSpec[] {
  const props = (optionsJsonSchema(pass.schema)['properties'] ?? {}) as Record<string, JsonProp>;
  return Object.entries(props)
    .filter(([k]) => !CLI_ONLY.has(k))
    .map(([key, p]) => {
      const base = p.anyOf?.find((a) => a.type !== 'null') ?? p;
      const type = Array.isArray(base.type) ? base.type[0] : base.type;
      const kind: FieldSpec['kind'] = base.enum
        ? 'enum'
        : type === 'boolean'
          ? 'boolean'
          : type === 'number' || type === 'integer'
            ? 'number'
            : type === 'array'
              ? 'array'
              : 'string';
      return {
        key,
        kind,
        choices: (base.enum ?? []).map(String),
        numeric: kind === 'number' || (kind === 'array' && (base.items?.type === 'number' || base.items?.type === 'integer')),
        defaultValue: p.default ?? base.default,
        description: p.description ?? base.description ?? '',
      };
    });
}

function shown(v: unknown): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return v.map((x) => shown(x)).join(', ');
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return `${v}`;
  return JSON.stringify(v);
}

/** The form's fields for `pass`, with `preset` filled in; read it back with formOptions. */
export function renderForm(pass: Pass, preset: Record<string, unknown>, id: string): HTMLElement {
  const box = document.createElement('div');
  box.className = 'step-form';
  box.dataset['kind'] = pass.kind;
  for (const f of fieldsOf(pass)) {
    const label = document.createElement('label');
    label.title = f.description;
    const name = document.createElement('span');
    name.textContent = f.key;
    label.append(name);
    const value = preset[f.key];
    let input: HTMLInputElement | HTMLSelectElement;
    if (f.kind === 'enum' || f.kind === 'boolean') {
      const sel = document.createElement('select');
      const choices = f.kind === 'boolean' ? ['true', 'false'] : f.choices;
      sel.append(new Option(f.defaultValue !== undefined ? `default (${shown(f.defaultValue)})` : 'default', ''));
      for (const c of choices) sel.append(new Option(c, c));
      sel.value = shown(value);
      input = sel;
    } else {
      const inp = document.createElement('input');
      inp.type = f.kind === 'number' ? 'number' : 'text';
      if (f.kind === 'number') inp.step = 'any';
      inp.placeholder = f.defaultValue !== undefined ? shown(f.defaultValue) : f.kind === 'array' ? 'a, b, …' : '';
      inp.value = shown(value);
      input = inp;
    }
    input.name = `${id}.${f.key}`;
    input.dataset['key'] = f.key;
    input.dataset['kind'] = f.kind;
    if (f.numeric) input.dataset['numeric'] = '1';
    label.append(input);
    box.append(label);
  }
  return box;
}

/** The options a form holds: only the fields given a value. */
export function formOptions(box: HTMLElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const el of box.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-key]')) {
    const raw = el.value.trim();
    if (raw === '') continue;
    const key = el.dataset['key']!;
    const numeric = el.dataset['numeric'] === '1';
    switch (el.dataset['kind']) {
      case 'boolean':
        out[key] = raw === 'true';
        break;
      case 'number':
        out[key] = Number(raw);
        break;
      case 'array':
        out[key] = raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
          .map((s) => (numeric ? Number(s) : s));
        break;
      default:
        out[key] = raw;
    }
  }
  return out;
}

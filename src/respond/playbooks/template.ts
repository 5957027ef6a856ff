import { lookup } from './conditions.ts';

const WHOLE = /^\{\{\s*([\w.-]+)\s*(?:\|\s*(\w+))?\s*\}\}$/;
const PART = /\{\{\s*([\w.-]+)\s*(?:\|\s*(\w+))?\s*\}\}/g;

function applyFilter(value: unknown, filter: string | undefined): unknown {
  if (!filter) return value;
  switch (filter) {
    case 'first':
      return Array.isArray(value) ? value[0] : value;
    case 'join':
      return Array.isArray(value) ? value.join(', ') : value;
    case 'json':
      return JSON.stringify(value);
    case 'upper':
      return typeof value === 'string' ? value.toUpperCase() : value;
    case 'lower':
      return typeof value === 'string' ? value.toLowerCase() : value;
    default:
      throw new Error(`unknown template filter ${filter}`);
  }
}

export const TEMPLATE_FILTERS = ['first', 'join', 'json', 'upper', 'lower'];

/**
 * Render `{{ path | filter }}` placeholders in step inputs. A string that is
 * only a placeholder keeps the value's type (a number stays a number); inside
 * longer text values are stringified. Paths are plain lookups: no code runs.
 *
 * @example render({ access_key_id: '{{ entities.access_key | first }}' }, ctx)
 */
export function render(value: unknown, ctx: unknown): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) return applyFilter(lookup(ctx, whole[1]!), whole[2]);
    return value.replace(PART, (_m, path: string, filter?: string) => {
      const v = applyFilter(lookup(ctx, path), filter);
      if (v === undefined || v === null) return '';
      return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => render(v, ctx));
  if (value && typeof value === 'object') {
    // A field whose placeholder finds nothing is left out, so optional inputs stay optional.
    return Object.fromEntries(
      Object.entries(value)
        .map(([k, v]) => [k, render(v, ctx)] as const)
        .filter(([, v]) => v !== undefined),
    );
  }
  return value;
}

/** Whether a value contains placeholders (its type is only known at run time). */
export function isTemplated(value: unknown): boolean {
  if (typeof value === 'string') return /\{\{.*\}\}/.test(value);
  if (Array.isArray(value)) return value.some(isTemplated);
  if (value && typeof value === 'object') return Object.values(value).some(isTemplated);
  return false;
}

/** Placeholders used in a value: path and filter. */
export function placeholders(value: unknown): Array<{ path: string; filter?: string }> {
  if (typeof value === 'string')
    return [...value.matchAll(PART)].map((m) => (m[2] ? { path: m[1]!, filter: m[2] } : { path: m[1]! }));
  if (Array.isArray(value)) return value.flatMap(placeholders);
  if (value && typeof value === 'object') return Object.values(value).flatMap(placeholders);
  return [];
}

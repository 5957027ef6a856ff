import { z } from 'zod';

type JsonSchema = {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
};

export interface FieldRow {
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(' \\| ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  if (
    s.type === 'object' &&
    s.additionalProperties &&
    typeof s.additionalProperties === 'object' &&
    !s.properties
  ) {
    return `map of ${typeOf(s.additionalProperties)}`;
  }
  const t = Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
  const SAFE = Number.MAX_SAFE_INTEGER;
  const lo = s.minimum !== undefined && s.minimum > -SAFE ? s.minimum : undefined;
  const hi = s.maximum !== undefined && s.maximum < SAFE ? s.maximum : undefined;
  const range =
    lo !== undefined && hi !== undefined
      ? `${lo}–${hi}`
      : lo !== undefined
        ? `≥ ${lo}`
        : hi !== undefined
          ? `≤ ${hi}`
          : undefined;
  const extra = [s.format, range].filter(Boolean);
  return extra.length ? `${t} (${extra.join(', ')})` : t;
}

/** Flatten a JSON schema into documented rows, one per field path. */
export function fieldRows(schema: JsonSchema, prefix = '', required = true): FieldRow[] {
  const rows: FieldRow[] = [];
  const props = schema.properties ?? {};
  const req = new Set(schema.required ?? []);
  for (const [name, child] of Object.entries(props)) {
    const path = prefix ? `${prefix}.${name}` : name;
    const objectChild = child.type === 'object' && child.properties ? child : undefined;
    const arrayOfObjects =
      child.type === 'array' && child.items?.type === 'object' && child.items.properties
        ? child.items
        : undefined;
    rows.push({
      path: arrayOfObjects ? `${path}[]` : path,
      type: objectChild ? 'object' : arrayOfObjects ? 'object[]' : typeOf(child),
      required: required && req.has(name) && child.default === undefined,
      default: objectChild ? undefined : child.default,
      description: (child.description ?? '').replace(/\n/g, ' '),
    });
    if (objectChild) rows.push(...fieldRows(objectChild, path, req.has(name)));
    if (arrayOfObjects) rows.push(...fieldRows(arrayOfObjects, `${path}[]`, false));
  }
  return rows;
}

/** Markdown table of a zod schema's fields. */
export function schemaTable(
  schema: z.ZodType,
  io: 'input' | 'output' = 'output',
  withDefaults = false,
  maxDepth = Number.POSITIVE_INFINITY,
): string {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  const rows = fieldRows(json).filter((r) => r.path.split('.').length <= maxDepth);
  const head = withDefaults
    ? '| field | type | default | description |\n|---|---|---|---|'
    : '| field | type | required | description |\n|---|---|---|---|';
  const body = rows.map((r) =>
    withDefaults
      ? `| \`${r.path}\` | ${r.type} | ${r.default === undefined ? '' : `\`${JSON.stringify(r.default)}\``} | ${r.description} |`
      : `| \`${r.path}\` | ${r.type} | ${r.required ? 'yes' : ''} | ${r.description} |`,
  );
  return [head, ...body].join('\n');
}

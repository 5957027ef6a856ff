import { z } from 'zod';
import { AisocError } from '../../errors.ts';
/**
 * The subset of JSON Schema the analyst emits for model output, and a small
 * validator for it. Backends send the schema to the model (Ollama `format`,
 * OpenAI `response_format`, a Bedrock tool's `inputSchema`), but a model or
 * a server may ignore it, so every answer is validated here again.
 *
 * Supported keywords: `type` (one or a list), `enum`, `const`, `properties`,
 * `required`, `additionalProperties` (boolean or schema), `items`,
 * `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern`, `minimum`,
 * `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `anyOf`, `oneOf`, and
 * local `$ref`s into `$defs`/`definitions` (what `z.toJSONSchema` emits).
 * Other keywords (`format`, `description`, `title`, `default`) are ignored.
 */
export interface JsonSchema {
  type?: JsonType | JsonType[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  description?: string;
  [keyword: string]: unknown;
}

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

/**
 * Keywords `z.toJSONSchema` writes that a model is not sent: `$schema` (not
 * part of the answer's shape), `default` (every field is required anyway),
 * and `description`, which is written for readers of the API (there
 * `event_ids` are real event ids; in a prompt they are R1, R2 and A).
 */
const NOT_FOR_MODELS = new Set(['$schema', 'default', 'description']);

/**
 * The JSON Schema a model answers in, derived from the zod schema of the
 * answer (its output side: fields with defaults are required). It is in
 * the strict form every backend takes (Ollama `format`, OpenAI
 * `response_format` with `strict: true`, a Bedrock tool's `inputSchema`):
 * every object closed (`additionalProperties: false`) with every property
 * required (a field that may be absent is nullable instead), and no
 * references. Throws when the zod schema cannot be put in that form, so a
 * schema change that would break strict backends fails at start-up and in
 * every test.
 *
 * @example
 * modelOutputSchema(z.object({ severity: SeverityName, reason: z.string().nullable() }));
 * // { type: 'object', properties: { severity: { type: 'string', enum: [...] }, reason: { type: ['string', 'null'] } },
 * //   required: ['severity', 'reason'], additionalProperties: false }
 */
export function modelOutputSchema(schema: z.ZodType): JsonSchema {
  const json = forModel(z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12' })) as JsonSchema;
  assertStrict(json, '(root)');
  return json;
}

function forModel(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forModel);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (NOT_FOR_MODELS.has(key)) continue;
    if (key === 'enum' || key === 'const') out[key] = value;
    else if (key === 'properties' && value && typeof value === 'object') {
      // Property names are the answer's own: a field may be called `description`.
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, forModel(sub)]));
    } else out[key] = forModel(value);
  }
  return out;
}

function assertStrict(schema: JsonSchema, path: string): void {
  const refuse = (why: string) => {
    throw new AisocError('AISOC_ERR_INTERNAL', `The model answer schema is not strict at ${path}: ${why}.`);
  };
  if (schema.$ref !== undefined || schema.$defs !== undefined || schema.definitions !== undefined)
    refuse('it uses references');
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes('object')) {
    if (schema.additionalProperties !== false) refuse('an object must not allow other properties');
    const required = new Set(schema.required ?? []);
    const optional = Object.keys(schema.properties ?? {}).filter((k) => !required.has(k));
    if (optional.length) refuse(`${optional.join(', ')} must be required (nullable if it may be empty)`);
  }
  for (const [name, sub] of Object.entries(schema.properties ?? {}))
    assertStrict(sub, path === '(root)' ? name : `${path}.${name}`);
  if (schema.items) assertStrict(schema.items, `${path}[]`);
  for (const alt of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) assertStrict(alt, path);
}

/** One way a value fails a schema: the field path (`recommendations[0].priority`) and why. */
export interface SchemaIssue {
  path: string;
  message: string;
}

const MAX_ISSUES = 20;

/**
 * Validate a value against a schema of the supported subset; returns every
 * issue (up to 20), an empty list when the value conforms.
 *
 * @example
 * validateJson({ type: 'object', required: ['severity'], properties: { severity: { enum: ['low', 'high'] } } }, { severity: 'huge' });
 * // → [{ path: 'severity', message: 'must be one of "low", "high"' }]
 */
export function validateJson(schema: JsonSchema, value: unknown): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  check(schema, value, '', schema, issues, 0);
  return issues.slice(0, MAX_ISSUES);
}

function typeOfValue(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
}

function matchesType(t: JsonType, v: unknown): boolean {
  const actual = typeOfValue(v);
  if (t === 'number') return actual === 'number' || actual === 'integer';
  return actual === t;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function resolveRef(ref: string, root: JsonSchema): JsonSchema | undefined {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!m) return undefined;
  const defs = m[1] === '$defs' ? root.$defs : root.definitions;
  return defs?.[m[2]!.replaceAll('~1', '/').replaceAll('~0', '~')];
}

function check(
  schema: JsonSchema,
  value: unknown,
  path: string,
  root: JsonSchema,
  issues: SchemaIssue[],
  depth: number,
): void {
  if (issues.length >= MAX_ISSUES) return;
  const at = path || '(root)';
  // A self-referencing schema must not loop forever on deep input.
  if (depth > 64) {
    issues.push({ path: at, message: 'is nested too deeply' });
    return;
  }
  if (schema.$ref !== undefined) {
    const target = resolveRef(schema.$ref, root);
    if (!target) {
      issues.push({ path: at, message: `uses an unsupported $ref ${schema.$ref}` });
      return;
    }
    check(target, value, path, root, issues, depth + 1);
  }
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const passing = alternatives.filter((alt) => validateAt(alt, value, path, root, depth).length === 0);
    if (passing.length === 0 || (schema.oneOf && passing.length > 1)) {
      // Report the closest alternative's issues: the one that got furthest.
      const best = alternatives
        .map((alt) => validateAt(alt, value, path, root, depth))
        .sort((a, b) => a.length - b.length)[0];
      if (passing.length > 1) issues.push({ path: at, message: 'matches more than one of oneOf' });
      else issues.push(...(best ?? [{ path: at, message: 'matches none of the alternatives' }]));
      return;
    }
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => matchesType(t, value))) {
      issues.push({ path: at, message: `must be ${types.join(' or ')}, not ${typeOfValue(value)}` });
      return;
    }
  }
  if (schema.const !== undefined && !sameJson(schema.const, value)) {
    issues.push({ path: at, message: `must be ${JSON.stringify(schema.const)}` });
  }
  if (schema.enum && !schema.enum.some((e) => sameJson(e, value))) {
    const shown = schema.enum
      .slice(0, 12)
      .map((e) => JSON.stringify(e))
      .join(', ');
    issues.push({ path: at, message: `must be one of ${shown}${schema.enum.length > 12 ? ', …' : ''}` });
  }
  if (typeof value === 'string') checkString(schema, value, at, issues);
  else if (typeof value === 'number') checkNumber(schema, value, at, issues);
  else if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      issues.push({ path: at, message: `must have at least ${schema.minItems} items` });
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      issues.push({ path: at, message: `must have at most ${schema.maxItems} items` });
    if (schema.items)
      for (const [i, v] of value.entries()) check(schema.items, v, join(path, i), root, issues, depth + 1);
  } else if (value !== null && typeof value === 'object') {
    checkObject(schema, value as Record<string, unknown>, path, root, issues, depth);
  }
}

function validateAt(schema: JsonSchema, value: unknown, path: string, root: JsonSchema, depth: number) {
  const out: SchemaIssue[] = [];
  check(schema, value, path, root, out, depth + 1);
  return out;
}

function checkString(schema: JsonSchema, value: string, at: string, issues: SchemaIssue[]): void {
  // Length in code points, as JSON Schema counts it.
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength)
    issues.push({ path: at, message: `must be at least ${schema.minLength} characters` });
  if (schema.maxLength !== undefined && length > schema.maxLength)
    issues.push({ path: at, message: `must be at most ${schema.maxLength} characters` });
  if (schema.pattern !== undefined) {
    let re: RegExp | undefined;
    try {
      re = new RegExp(schema.pattern, 'u');
    } catch {
      issues.push({ path: at, message: `has an invalid pattern in the schema: ${schema.pattern}` });
    }
    if (re && !re.test(value)) issues.push({ path: at, message: `must match ${schema.pattern}` });
  }
}

function checkNumber(schema: JsonSchema, value: number, at: string, issues: SchemaIssue[]): void {
  if (schema.minimum !== undefined && value < schema.minimum)
    issues.push({ path: at, message: `must be ≥ ${schema.minimum}` });
  if (schema.maximum !== undefined && value > schema.maximum)
    issues.push({ path: at, message: `must be ≤ ${schema.maximum}` });
  if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
    issues.push({ path: at, message: `must be > ${schema.exclusiveMinimum}` });
  if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum)
    issues.push({ path: at, message: `must be < ${schema.exclusiveMaximum}` });
}

function checkObject(
  schema: JsonSchema,
  value: Record<string, unknown>,
  path: string,
  root: JsonSchema,
  issues: SchemaIssue[],
  depth: number,
): void {
  for (const key of schema.required ?? []) {
    if (!Object.hasOwn(value, key)) issues.push({ path: join(path, key), message: 'is required' });
  }
  const props = schema.properties ?? {};
  for (const [key, v] of Object.entries(value)) {
    const sub = Object.hasOwn(props, key) ? props[key] : undefined;
    if (sub) check(sub, v, join(path, key), root, issues, depth + 1);
    else if (schema.additionalProperties === false)
      issues.push({ path: join(path, key), message: 'is not allowed (no such field)' });
    else if (typeof schema.additionalProperties === 'object')
      check(schema.additionalProperties, v, join(path, key), root, issues, depth + 1);
  }
}

/** Structural equality of JSON values (for `enum` and `const`). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

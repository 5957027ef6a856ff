import type { JsonSchema } from '../json-schema.ts';

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (schema.$ref) {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
    const defs = m?.[1] === '$defs' ? root.$defs : root.definitions;
    const target = m ? defs?.[m[2]!] : undefined;
    if (target) return resolve(target, root);
  }
  const alts = schema.anyOf ?? schema.oneOf;
  // Prefer the non-null alternative: a fitted value should carry information.
  if (alts?.length) return resolve(alts.find((a) => a.type !== 'null') ?? alts[0]!, root);
  return schema;
}

function firstType(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null') ?? schema.type[0];
  return schema.type;
}

/**
 * Shape a value to a JSON schema of the supported subset, the way a model
 * under constrained decoding would: fields the schema lacks are dropped,
 * required fields that are missing get a neutral value, enums fall back to
 * their first member, numbers are clamped. Test models use it so that the
 * same verdict fits whatever schema the analyst asks for.
 *
 * @example
 * fitToSchema({ severity: 'huge', extra: 1 }, { type: 'object', properties: { severity: { enum: ['low', 'high'] } }, required: ['severity'], additionalProperties: false })
 * // → { severity: 'low' }
 */
export function fitToSchema(value: unknown, schema: JsonSchema, root: JsonSchema = schema): unknown {
  const s = resolve(schema, root);
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum.some((e) => e === value) ? value : s.enum[0];
  const type = firstType(s);
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (value === null && types.includes('null')) return null;
  switch (type) {
    case 'object': {
      const src =
        value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
      const out: Record<string, unknown> = {};
      const props = s.properties ?? {};
      for (const [k, sub] of Object.entries(props)) {
        if (Object.hasOwn(src, k) && src[k] !== undefined) out[k] = fitToSchema(src[k], sub, root);
        else if (s.required?.includes(k)) out[k] = fitToSchema(undefined, sub, root);
      }
      if (s.additionalProperties !== false && !s.properties) Object.assign(out, src);
      return out;
    }
    case 'array': {
      const arr = Array.isArray(value) ? value : [];
      let items = s.items ? arr.map((v) => fitToSchema(v, s.items!, root)) : arr;
      if (s.maxItems !== undefined) items = items.slice(0, s.maxItems);
      while (s.minItems !== undefined && items.length < s.minItems)
        items.push(s.items ? fitToSchema(undefined, s.items, root) : null);
      return items;
    }
    case 'string': {
      let str =
        typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
      if (s.maxLength !== undefined) str = [...str].slice(0, s.maxLength).join('');
      while (s.minLength !== undefined && [...str].length < s.minLength) str += '-';
      return str;
    }
    case 'number':
    case 'integer': {
      let n = typeof value === 'number' && Number.isFinite(value) ? value : Number(value);
      if (!Number.isFinite(n)) n = s.minimum ?? 0;
      if (type === 'integer') n = Math.round(n);
      if (s.minimum !== undefined) n = Math.max(s.minimum, n);
      if (s.maximum !== undefined) n = Math.min(s.maximum, n);
      return n;
    }
    case 'boolean':
      return typeof value === 'boolean' ? value : false;
    case 'null':
      return null;
    default:
      return value ?? null;
  }
}

import { z } from 'zod';
import { SEVERITY_ORDER, type SeverityName, severityRank } from '../../schema/common.ts';

/**
 * Conditions are data, not code: a map of field paths to tests, combined with
 * `all`, `any` and `not`. They are evaluated against the run context
 * (`alert`, `incident`, `priority`, `verdict`, `entities`, `steps`).
 *
 * @example
 * { all: [{ priority: { gte: 80 } }, { 'alert.mitre_tactics': { contains: 'credential-access' } }] }
 */
export const Comparison = z
  .strictObject({
    eq: z.unknown().optional(),
    ne: z.unknown().optional(),
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    in: z.array(z.unknown()).optional().describe('The value is one of these'),
    contains: z.unknown().optional().describe('The list (or string) contains this'),
    contains_any: z.array(z.unknown()).optional(),
    matches: z.string().optional().describe('Regular expression the string value matches'),
    exists: z.boolean().optional(),
  })
  .describe('Tests on one field; all given tests must hold');
export type Comparison = z.infer<typeof Comparison>;

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | Record<string, Comparison | string | number | boolean | null>;

export const Condition: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(Condition).min(1) }),
    z.strictObject({ any: z.array(Condition).min(1) }),
    z.strictObject({ not: Condition }),
    z.record(
      z
        .string()
        .regex(/^[A-Za-z_][\w]*(\.[A-Za-z_0-9][\w-]*)*$/, 'must be a field path such as alert.severity'),
      z.union([Comparison, z.string(), z.number(), z.boolean(), z.null()]),
    ),
  ]),
);

/** Read a dotted path; a path through an array collects every element's value. */
export function lookup(ctx: unknown, path: string): unknown {
  let cur: unknown[] = [ctx];
  let spread = false;
  for (const part of path.split('.')) {
    const next: unknown[] = [];
    for (const c of cur) {
      if (Array.isArray(c)) {
        spread = true;
        for (const x of c) if (x && typeof x === 'object') next.push((x as Record<string, unknown>)[part]);
      } else if (c && typeof c === 'object') next.push((c as Record<string, unknown>)[part]);
    }
    cur = next;
  }
  const defined = cur.filter((v) => v !== undefined);
  if (spread) return defined.flat();
  return defined[0];
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  // Severity names compare by rank, so `severity: {gte: 'high'}` style tests work through numbers too.
  if (typeof v === 'string' && (SEVERITY_ORDER as readonly string[]).includes(v))
    return severityRank(v as SeverityName);
  return undefined;
}

function equal(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  return JSON.stringify(a) === JSON.stringify(b);
}

function has(container: unknown, item: unknown): boolean {
  if (Array.isArray(container)) return container.some((x) => equal(x, item));
  if (typeof container === 'string' && typeof item === 'string')
    return container.toLowerCase().includes(item.toLowerCase());
  return false;
}

function test(value: unknown, cmp: Comparison | string | number | boolean | null): boolean {
  if (cmp === null || typeof cmp !== 'object')
    return Array.isArray(value) ? has(value, cmp) : equal(value, cmp);
  if (cmp.exists !== undefined) {
    // An empty list counts as absent: `entities.ip: {exists: true}` means "there is an IP".
    const present = value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
    if (present !== cmp.exists) return false;
  }
  if ('eq' in cmp && cmp.eq !== undefined && !equal(value, cmp.eq)) return false;
  if ('ne' in cmp && cmp.ne !== undefined && equal(value, cmp.ne)) return false;
  const n = num(value);
  if (cmp.gt !== undefined && !(n !== undefined && n > cmp.gt)) return false;
  if (cmp.gte !== undefined && !(n !== undefined && n >= cmp.gte)) return false;
  if (cmp.lt !== undefined && !(n !== undefined && n < cmp.lt)) return false;
  if (cmp.lte !== undefined && !(n !== undefined && n <= cmp.lte)) return false;
  if (cmp.in && !cmp.in.some((x) => (Array.isArray(value) ? has(value, x) : equal(value, x)))) return false;
  if (cmp.contains !== undefined && !has(value, cmp.contains)) return false;
  if (cmp.contains_any && !cmp.contains_any.some((x) => has(value, x))) return false;
  if (cmp.matches !== undefined) {
    const values = Array.isArray(value) ? value : [value];
    let re: RegExp;
    try {
      re = new RegExp(cmp.matches, 'i');
    } catch {
      return false;
    }
    if (!values.some((v) => typeof v === 'string' && re.test(v))) return false;
  }
  return true;
}

/** Evaluate a condition against a context; an absent condition holds. */
export function evaluate(condition: Condition | undefined, ctx: unknown): boolean {
  if (condition === undefined) return true;
  if ('all' in condition && Array.isArray(condition.all))
    return (condition.all as Condition[]).every((c) => evaluate(c, ctx));
  if ('any' in condition && Array.isArray(condition.any))
    return (condition.any as Condition[]).some((c) => evaluate(c, ctx));
  if (
    'not' in condition &&
    typeof condition.not === 'object' &&
    condition.not !== null &&
    !Array.isArray(condition.not)
  ) {
    return !evaluate(condition.not as Condition, ctx);
  }
  for (const [path, cmp] of Object.entries(condition as Record<string, Comparison>)) {
    if (!test(lookup(ctx, path), cmp)) return false;
  }
  return true;
}

/** Field paths a condition reads (for linting and for the LLM-verdict policy rule). */
export function conditionPaths(condition: Condition | undefined): string[] {
  if (condition === undefined) return [];
  if ('all' in condition && Array.isArray(condition.all))
    return (condition.all as Condition[]).flatMap(conditionPaths);
  if ('any' in condition && Array.isArray(condition.any))
    return (condition.any as Condition[]).flatMap(conditionPaths);
  if (
    'not' in condition &&
    typeof condition.not === 'object' &&
    condition.not !== null &&
    !Array.isArray(condition.not)
  ) {
    return conditionPaths(condition.not as Condition);
  }
  return Object.keys(condition);
}

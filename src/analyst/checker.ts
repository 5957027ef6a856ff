import type { TriageResponse } from '../schema/verdict.ts';

/** What a verdict may cite: records by id (events, or the submitted alert), each an object of fields. */
export interface EvidenceContext {
  records: Map<string, unknown>;
  /** Numbers derived from the data that text may quote (event counts, alert count, incident size). */
  derivedNumbers?: number[];
  /** Known ATT&CK technique ids; when given, cited techniques must be among them. */
  knownTechniques?: Set<string>;
}

export interface CheckFinding {
  /** Where in the verdict: `evidence[2].fields[0]`, `summary`, `mitre_techniques[1]`. */
  path: string;
  problem: string;
}

export interface CheckResult {
  ok: boolean;
  findings: CheckFinding[];
}

/**
 * Resolve a dotted field path (`actor.user.name`, `raw.requestParameters.userName`, `tags[0]`)
 * through the record's OWN fields only: a name a verdict cites must be data in
 * the record, never something every object inherits (`constructor`,
 * `toString`, `__proto__`) nor a property of a value (`tags.length`), or a
 * model could cite "evidence" that exists in every record.
 */
export function resolvePath(record: unknown, path: string): unknown {
  let cur: unknown = record;
  for (const part of path.split('.')) {
    if (cur === null || cur === undefined) return undefined;
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) return undefined;
    if (m[1]) {
      // Arrays are reached by index only; strings, numbers and functions have no fields.
      if (typeof cur !== 'object' || Array.isArray(cur)) return undefined;
      if (!Object.hasOwn(cur, m[1])) return undefined;
      cur = (cur as Record<string, unknown>)[m[1]];
    }
    for (const idx of m[2]!.match(/\d+/g) ?? []) {
      const i = Number(idx);
      if (!Array.isArray(cur) || i >= cur.length) return undefined;
      cur = cur[i];
    }
  }
  return cur;
}

/** Every number that appears in the data: numeric values and digit runs inside strings. */
export function numbersInData(values: Iterable<unknown>): Set<string> {
  const out = new Set<string>();
  const stack: unknown[] = [...values];
  let budget = 200_000;
  while (stack.length && budget-- > 0) {
    const v = stack.pop();
    if (typeof v === 'number' && Number.isFinite(v)) out.add(normaliseNumber(String(v)));
    else if (typeof v === 'string') {
      for (const m of v.matchAll(/\d+(?:\.\d+)?/g)) out.add(normaliseNumber(m[0]));
    } else if (Array.isArray(v)) stack.push(...v);
    else if (v && typeof v === 'object') stack.push(...Object.values(v));
  }
  return out;
}

function normaliseNumber(s: string): string {
  const n = Number(s);
  return Number.isFinite(n) ? String(n) : s;
}

/** Numbers a sentence states, ignoring those inside addresses, ids, dates and ATT&CK technique ids. */
export function statedNumbers(text: string): string[] {
  const cleaned = text
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?\b/g, ' ') // IPv4 and CIDR
    .replace(/\b[0-9a-f]*:[0-9a-f:]+\b/gi, ' ') // IPv6-ish and times
    .replace(/\bT\d{4}(?:\.\d{3})?\b/g, ' ') // ATT&CK techniques
    .replace(/\b\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?)?\b/g, ' ') // dates
    .replace(/\b[A-Za-z_-]*\d+[A-Za-z_-]+[\w-]*\b|\b[A-Za-z_-]+\d+[\w-]*\b/g, ' '); // identifiers mixing letters and digits
  return [...cleaned.matchAll(/(?<![\w.])\d+(?:\.\d+)?(?![\w.])/g)].map((m) => normaliseNumber(m[0]));
}

/**
 * Check a verdict against the data it was given: every cited event exists,
 * every cited field exists in a cited event (or in any record when no event
 * is cited), numbers stated in evidence claims and the summary occur in the
 * data, and cited techniques are known.
 *
 * @example
 * const r = checkVerdict(verdict, { records: new Map([[event.id, event]]) });
 * if (!r.ok) console.log(r.findings);
 */
export function checkVerdict(
  verdict: Pick<TriageResponse, 'evidence' | 'summary' | 'mitre_techniques'>,
  ctx: EvidenceContext,
): CheckResult {
  const findings: CheckFinding[] = [];
  const known = numbersInData(ctx.records.values());
  for (const n of ctx.derivedNumbers ?? []) known.add(normaliseNumber(String(n)));
  const numberOk = (n: string) => Number(n) <= 1 || known.has(n);

  verdict.evidence.forEach((ev, i) => {
    const cited: unknown[] = [];
    ev.event_ids.forEach((id, j) => {
      if (!ctx.records.has(id))
        findings.push({
          path: `evidence[${i}].event_ids[${j}]`,
          problem: `cites ${id}, which is not in the data`,
        });
      else cited.push(ctx.records.get(id));
    });
    const pool = cited.length ? cited : [...ctx.records.values()];
    ev.fields.forEach((f, j) => {
      const present = pool.some((r) => {
        const v = resolvePath(r, f);
        return v !== undefined && v !== null && v !== '';
      });
      if (!present)
        findings.push({
          path: `evidence[${i}].fields[${j}]`,
          problem: `field ${f} is not present in the cited data`,
        });
    });
    for (const n of statedNumbers(ev.claim)) {
      if (!numberOk(n))
        findings.push({
          path: `evidence[${i}].claim`,
          problem: `states the number ${n}, which is not in the data`,
        });
    }
  });
  for (const n of statedNumbers(verdict.summary)) {
    if (!numberOk(n))
      findings.push({ path: 'summary', problem: `states the number ${n}, which is not in the data` });
  }
  if (ctx.knownTechniques) {
    verdict.mitre_techniques.forEach((t, i) => {
      if (!ctx.knownTechniques!.has(t))
        findings.push({ path: `mitre_techniques[${i}]`, problem: `${t} is not an ATT&CK technique` });
    });
  }
  return { ok: findings.length === 0, findings };
}

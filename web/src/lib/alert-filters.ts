/**
 * The alert queue's filters and sort, kept in the URL hash's search params (`#/alerts?severity=high&entity=bob`)
 * so a filtered queue can be bookmarked and shared. Only filter values go there — never the key.
 * Lists are comma-separated; defaults are left out so the plain queue has a plain URL.
 */
import type { Query } from './api.ts';
import { type AlertStatus, SEVERITIES, type SeverityName } from './types.ts';

export const ALERT_STATUSES = ['new', 'acknowledged', 'in_progress', 'closed', 'suppressed'] as const;

export interface AlertFilters {
  severity: SeverityName[];
  status: AlertStatus[];
  source: string[];
  rule: string;
  technique: string[];
  entity: string;
  q: string;
  sort: 'priority' | 'time';
  order: 'asc' | 'desc';
}

export const NO_FILTERS: AlertFilters = {
  severity: [],
  status: [],
  source: [],
  rule: '',
  technique: [],
  entity: '',
  q: '',
  sort: 'priority',
  order: 'desc',
};

/** A search value as text: the router parses `?rule=123` to a number, and a hand-edited URL may hold anything. */
function text(v: unknown): string {
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(text).filter(Boolean).join(',');
  return '';
}

function list(v: unknown): string[] {
  return [
    ...new Set(
      text(v)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
}

function oneOf<T extends string>(allowed: readonly T[], values: string[]): T[] {
  return values.filter((v): v is T => (allowed as readonly string[]).includes(v));
}

/** Filters from the router's parsed search; values it does not know are dropped, not sent to the server. */
export function filtersFromSearch(search: Record<string, unknown>): AlertFilters {
  const sort = text(search.sort);
  const order = text(search.order);
  return {
    severity: oneOf(
      SEVERITIES,
      list(search.severity).map((s) => s.toLowerCase()),
    ),
    status: oneOf(
      ALERT_STATUSES,
      list(search.status).map((s) => s.toLowerCase()),
    ),
    source: list(search.source),
    rule: text(search.rule),
    technique: list(search.technique).map((t) => t.toUpperCase()),
    entity: text(search.entity),
    q: text(search.q).slice(0, 256),
    sort: sort === 'time' ? 'time' : 'priority',
    order: order === 'asc' ? 'asc' : 'desc',
  };
}

/** Search params for the URL: strings only, defaults and empty filters left out. */
export function searchFromFilters(f: Partial<AlertFilters>): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (k: string, v: string | readonly string[] | undefined) => {
    const s = Array.isArray(v) ? v.join(',') : ((v as string | undefined) ?? '');
    if (s) out[k] = s;
  };
  put('severity', f.severity);
  put('status', f.status);
  put('source', f.source);
  put('rule', f.rule);
  put('technique', f.technique);
  put('entity', f.entity);
  put('q', f.q);
  if (f.sort === 'time') out.sort = 'time';
  if (f.order === 'asc') out.order = 'asc';
  return out;
}

/** The `GET /alerts` query for these filters (without limit and offset). */
export function apiQuery(f: AlertFilters): Query {
  return {
    severity: f.severity,
    status: f.status,
    source: f.source,
    rule: f.rule,
    technique: f.technique,
    entity: f.entity,
    q: f.q,
    sort: f.sort,
    order: f.order,
  };
}

/** True when any filter (not the sort) is set. */
export function isFiltered(f: AlertFilters): boolean {
  return Boolean(
    f.severity.length ||
      f.status.length ||
      f.source.length ||
      f.rule ||
      f.technique.length ||
      f.entity ||
      f.q,
  );
}

/**
 * Whether the live stream can tell if a new alert belongs to this view: it
 * sends each alert's severity and status, not its source, rule, techniques,
 * entities or text, so under those filters a count of new alerts is only an
 * upper bound.
 */
export function streamCanMatch(f: AlertFilters): boolean {
  return !(f.source.length || f.rule || f.technique.length || f.entity || f.q);
}

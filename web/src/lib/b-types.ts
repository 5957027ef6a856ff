/**
 * Shapes of the issue-14 routes the views of this change read (GET /coverage, /coverage/:technique, /rules,
 * /sources, /audit), written from the API contract until the server exports their zod schemas.
 */
import type { Alert, AuditEntry } from './types.ts';

export interface CoverageTactic {
  id: string;
  shortname: string;
  name: string;
}

export interface CoverageCount {
  id: string;
  name: string;
  rules: number;
  alerts: number;
}

export interface CoverageTechnique extends CoverageCount {
  tactics: string[];
  subtechniques?: CoverageCount[];
}

export interface Coverage {
  tactics: CoverageTactic[];
  techniques: CoverageTechnique[];
}

export interface CoverageDetail {
  technique: { id: string; name: string; description?: string; url?: string };
  rules: Array<{ id: string; title: string; level: string; status: string }>;
  alerts: Alert[];
}

export type LintState = 'ok' | 'warning' | 'error';

export interface RuleSummary {
  id: string;
  title: string;
  engine: string;
  level: string;
  status: string;
  logsource?: { product?: string; service?: string; category?: string };
  techniques: string[];
  hits: number;
  lint: { state: LintState; messages: string[] };
}

export interface SourceInfo {
  type: string;
  description: string;
  /** Detection rules that read its events (Sigma rules and correlations); 0 with no verdicts: it raises no alert. */
  rules?: number;
  /** Which of its records carry the product's own verdict (passed through as alerts); null when none. */
  verdicts?: string | null;
  events_last_hour?: number;
  per_s?: number;
  last_event_at?: string | null;
}

export interface AuditPage {
  items: AuditEntry[];
  next_after_id: number | null;
}

/** An ATT&CK technique id as the server validates it: the only ids a link to attack.mitre.org is built from. */
export const TECHNIQUE_ID = /^T\d{4}(\.\d{3})?$/;

/** `https://attack.mitre.org/techniques/T1078/004/` for a valid id, else null (never a link from other text). */
export function attackUrl(id: string): string | null {
  if (!TECHNIQUE_ID.test(id)) return null;
  return `https://attack.mitre.org/techniques/${id.replace('.', '/')}/`;
}

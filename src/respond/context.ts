import type { Alert } from '../schema/alert.ts';
import type { Incident } from '../schema/incident.ts';
import type { StoredVerdict } from '../schema/verdict.ts';

/**
 * What conditions and templates see during a run. `entities` lists values by
 * type (`entities.access_key`, `entities.ip`…); `steps.<id>` holds what each
 * earlier step returned.
 */
export interface RunContext {
  subject: { type: 'alert' | 'incident'; id: string };
  alert?: Alert;
  incident?: Incident;
  /** Current priority (after `core.score`, including the analyst verdict once there is one). */
  priority: number;
  /** Priority from detections, ML, assets, tactics and correlation only — what policies see. */
  detection_priority: number;
  /** Whether the priority reaches the triage threshold (the seed's 80 by default). */
  above_threshold: boolean;
  verdict?: StoredVerdict['response'] & { analyst: string; checked: boolean };
  entities: Record<string, string[]>;
  /** Entity addresses on the internet (class `public` in src/net/ip.ts, IPv4-mapped ones as IPv4), never this server's own. */
  external_ips: string[];
  steps: Record<string, unknown>;
  playbook: { id: string; name: string };
  config: { dry_run: boolean; threshold: number };
}

/** Group entities by type for templates: `{{ entities.access_key | first }}`. */
export function entitiesByType(list: Array<{ type: string; value: string }>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of list) {
    const arr = out[e.type] ?? [];
    if (!arr.includes(e.value)) arr.push(e.value);
    out[e.type] = arr;
  }
  return out;
}

/**
 * The context policies are evaluated against: no verdict at all, and the
 * priority before any analyst verdict — so an LLM's opinion can never be what
 * authorises an action.
 */
export function policyView(ctx: RunContext): Omit<RunContext, 'verdict'> {
  const { verdict: _v, ...rest } = ctx;
  return { ...rest, priority: ctx.detection_priority };
}

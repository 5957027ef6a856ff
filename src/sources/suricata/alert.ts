import type { SeverityName } from '../../schema/common.ts';
import type { UpstreamFinding } from '../../schema/event.ts';
import { intOf, isObj, type Obj, ParseError, strOf, typeName } from '../fields.ts';

/**
 * Suricata's `alert.severity` is the priority of the rule's classtype in
 * `classification.config`, 1 being the most severe. Priority 1 classtypes
 * (trojan-activity, web-application-attack, attempted-admin, …) say an
 * attack or a compromise is likely: `high`. Priority 2 (attempted-recon,
 * misc-attack, bad-unknown, …) is suspicious: `medium`. Priority 3
 * (misc-activity, not-suspicious, protocol-command-decode, …) is worth
 * recording: `low`. Priority 4 and beyond (tcp-connection, custom classes)
 * is `informational`. A signature match alone never proves impact, so no
 * priority maps to `critical`.
 *
 * @example severityOfPriority(1) // 'high'
 */
export function severityOfPriority(priority: number | undefined): SeverityName {
  if (priority === undefined) return 'medium';
  if (priority <= 1) return 'high';
  if (priority === 2) return 'medium';
  if (priority === 3) return 'low';
  return 'informational';
}

/** ET rule metadata `confidence` → a probability the match is a true positive. */
const CONFIDENCE: Record<string, number> = { high: 0.9, medium: 0.6, low: 0.3 };

/** Metadata keys that hold ATT&CK technique ids (ET rules write `mitre_technique_id T1190`). */
const TECHNIQUE_KEYS = new Set(['mitre_technique_id', 'mitre_subtechnique_id', 'mitre_attack', 'attack_id']);
const TACTIC_KEYS = new Set(['mitre_tactic_id']);
/** Metadata kept as `key:value` tags; dates and names that repeat ids are left in `raw`. */
const TAG_KEYS = new Set([
  'signature_severity',
  'attack_target',
  'deployment',
  'former_category',
  'malware_family',
  'affected_product',
  'performance_impact',
  'cve',
  'tag',
  'policy',
]);
const TECHNIQUE = /^T\d{4}(?:[._]\d{3})?$/i;

export interface AlertMapping {
  finding: UpstreamFinding;
  /** `allowed` or `blocked` (IPS drop/reject), as Suricata wrote it. */
  action?: string;
  gid?: number;
  rev?: number;
  signatureId: string;
}

function metadataValues(v: unknown, field: string): string[] {
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const x of v) if (typeof x === 'string' || typeof x === 'number') out.push(String(x));
    return out;
  }
  if (typeof v === 'string') return [v];
  throw new ParseError(`${field} must be an array of strings, got ${typeName(v)}`, field);
}

/**
 * Map an EVE `alert` object to the upstream finding: uid = signature_id,
 * title = signature, severity from the classtype priority (see
 * {@link severityOfPriority}), techniques from rule metadata.
 *
 * @example mapAlert({ signature_id: 2001219, signature: 'ET SCAN Potential SSH Scan', severity: 2 }).finding.severity // 'medium'
 */
export function mapAlert(alert: Obj): AlertMapping {
  // Fields read by name (see strOf in ../fields.ts): every alert passes here.
  const sid = strOf(alert.signature_id, 'alert.signature_id');
  if (sid === undefined) throw new ParseError('alert.signature_id is required', 'alert.signature_id');
  const priority = intOf(alert.severity, 'alert.severity');
  if (priority !== undefined && priority < 1)
    throw new ParseError(`alert.severity must be 1 or more, got ${priority}`, 'alert.severity');
  const signature = strOf(alert.signature, 'alert.signature');
  const category = strOf(alert.category, 'alert.category');
  const action = strOf(alert.action, 'alert.action');
  const gid = intOf(alert.gid, 'alert.gid');
  const rev = intOf(alert.rev, 'alert.rev');

  const tags: string[] = [];
  if (category) tags.push(`category:${category}`);
  if (action) tags.push(`action:${action}`);
  const techniques: string[] = [];
  let confidence: number | undefined;
  const metadata = alert.metadata;
  if (metadata !== undefined && metadata !== null) {
    if (!isObj(metadata))
      throw new ParseError(`alert.metadata must be an object, got ${typeName(metadata)}`, 'alert.metadata');
    for (const key in metadata) {
      const field = `alert.metadata.${key}`;
      if (TECHNIQUE_KEYS.has(key)) {
        for (const v of metadata[key] === null ? [] : metadataValues(metadata[key], field)) {
          const t = v.trim();
          if (TECHNIQUE.test(t)) {
            const id = t.toUpperCase().replace('_', '.');
            if (!techniques.includes(id)) techniques.push(id);
          }
        }
      } else if (TACTIC_KEYS.has(key)) {
        for (const v of metadata[key] === null ? [] : metadataValues(metadata[key], field))
          tags.push(`attack.${v.trim().toLowerCase()}`);
      } else if (key === 'confidence') {
        const first = metadata[key] === null ? undefined : metadataValues(metadata[key], field)[0];
        if (first !== undefined) confidence = CONFIDENCE[first.trim().toLowerCase()];
      } else if (TAG_KEYS.has(key)) {
        for (const v of metadata[key] === null ? [] : metadataValues(metadata[key], field))
          tags.push(`${key}:${v}`);
      }
    }
  }

  const severity = severityOfPriority(priority);
  const finding: UpstreamFinding = {
    uid: sid,
    title: signature ?? `Suricata signature ${sid}`,
    product: 'Suricata',
    severity,
    tags,
    techniques,
  };
  if (priority !== undefined) finding.level = priority;
  if (confidence !== undefined) finding.confidence = confidence;
  // One shape whatever the alert holds (absent values undefined): the caller reads every field.
  return { finding, action, gid, rev, signatureId: sid };
}

import type { SeverityName } from '../../schema/common.ts';

/**
 * Wazuh rule levels onto the product's five severities. The bands follow
 * Wazuh's own "Rules classification" meanings (docs/wazuh.md cites each):
 *
 * - 0–3 informational: ignored, status notifications and successful or
 *   authorised events; Wazuh says these carry no security relevance.
 * - 4–6 low: low-priority system errors, user errors ("by themselves no
 *   security relevance") and low-relevance attacks that had no effect.
 * - 7–9 medium: "bad word" matches, first-time-seen events and errors from
 *   invalid sources, which Wazuh says may have security relevance.
 * - 10–11 high: repeated user errors and integrity-checking warnings, which
 *   may indicate an attack, or a successful one (rootkits, changed binaries).
 * - 12–16 critical: high-importance and unusual errors, correlated attacks
 *   and severe attacks; 12 is also Wazuh's default `email_alert_level`, the
 *   level at which Wazuh itself interrupts a person.
 */
export const WAZUH_LEVEL_BANDS: ReadonlyArray<{ from: number; to: number; severity: SeverityName }> = [
  { from: 0, to: 3, severity: 'informational' },
  { from: 4, to: 6, severity: 'low' },
  { from: 7, to: 9, severity: 'medium' },
  { from: 10, to: 11, severity: 'high' },
  { from: 12, to: 16, severity: 'critical' },
];

/** Highest level Wazuh defines (its documentation lists 0–16; rules use 0–15). */
export const WAZUH_MAX_LEVEL = 16;

/**
 * The severity of a Wazuh rule level.
 *
 * @example wazuhSeverity(5) // 'low'
 * @example wazuhSeverity(12) // 'critical'
 */
export function wazuhSeverity(level: number): SeverityName {
  for (const band of WAZUH_LEVEL_BANDS) if (level >= band.from && level <= band.to) return band.severity;
  throw new RangeError(`Wazuh rule level ${level} is outside 0–${WAZUH_MAX_LEVEL}`);
}

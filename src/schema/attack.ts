/**
 * ATT&CK Enterprise tactic short names (each tactic's `x_mitre_shortname`),
 * in the order of the Enterprise matrix, which is the kill-chain order.
 * Sigma tags write them with underscores (`attack.credential_access`).
 */
export const ATTACK_TACTICS = [
  'reconnaissance',
  'resource-development',
  'initial-access',
  'execution',
  'persistence',
  'privilege-escalation',
  'defense-evasion',
  'credential-access',
  'discovery',
  'lateral-movement',
  'collection',
  'command-and-control',
  'exfiltration',
  'impact',
] as const;
export type TacticName = (typeof ATTACK_TACTICS)[number];

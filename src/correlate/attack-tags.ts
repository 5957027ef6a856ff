import { ATTACK_TACTICS, type TacticName } from '../schema/attack.ts';

const TACTIC_SET = new Set<string>(ATTACK_TACTICS);

/**
 * Split rule tags (`attack.t1078.004`, `attack.initial-access`,
 * `attack.initial_access`) into ATT&CK technique ids and tactic short names.
 *
 * @example techniquesAndTactics(['attack.t1078.004', 'attack.persistence']) // { techniques: ['T1078.004'], tactics: ['persistence'] }
 */
export function techniquesAndTactics(tags: Iterable<string>): { techniques: string[]; tactics: string[] } {
  const techniques = new Set<string>();
  const tactics = new Set<string>();
  for (const raw of tags) {
    const tag = raw.toLowerCase();
    if (!tag.startsWith('attack.')) continue;
    const rest = tag.slice(7);
    const m = /^t(\d{4})(?:\.(\d{3}))?$/.exec(rest);
    if (m) {
      techniques.add(m[2] ? `T${m[1]}.${m[2]}` : `T${m[1]}`);
      continue;
    }
    const tactic = rest.replace(/_/g, '-');
    if (TACTIC_SET.has(tactic)) tactics.add(tactic);
  }
  return {
    techniques: [...techniques].sort(),
    tactics: [...tactics].sort(
      (a, b) => ATTACK_TACTICS.indexOf(a as TacticName) - ATTACK_TACTICS.indexOf(b as TacticName),
    ),
  };
}

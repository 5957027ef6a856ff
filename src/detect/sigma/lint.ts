import { existsSync } from 'node:fs';
import { ATTACK_TACTICS } from '../../schema/attack.ts';
import type { SigmaIssue } from './issues.ts';
import type { CompiledCorrelation, CompiledRule, RuleSet } from './ruleset.ts';
import { loadSamples, samplesFileFor } from './samples.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TECHNIQUE = /^attack\.t\d{4}(\.\d{3})?$/;
/** Tactic tags as our pack writes them: `attack.credential_access`. */
const TACTICS = new Set(ATTACK_TACTICS.map((t) => t.replaceAll('-', '_')));

/**
 * Conventions of our own pack (content/rules), beyond Sigma validity: every
 * rule has a UUID, a level, a status, a description, an ATT&CK technique and
 * tactic tag, a log source some pipeline maps, and a samples file with at
 * least one positive and one negative case (rules that only feed a
 * correlation are exercised through the correlation's samples).
 *
 * @example
 * const issues = packConventions(ruleSet);
 * issues.filter((i) => i.kind !== 'warning').length === 0
 */
export function packConventions(ruleSet: RuleSet): SigmaIssue[] {
  const issues: SigmaIssue[] = [];
  const add = (r: CompiledRule | CompiledCorrelation, message: string) =>
    issues.push({ kind: 'invalid', file: r.file, line: r.line, rule: r.id, message });
  const all: Array<CompiledRule | CompiledCorrelation> = [...ruleSet.rules, ...ruleSet.correlations];
  const feedsCorrelation = new Set(ruleSet.correlations.flatMap((c) => c.rules));
  const standaloneFiles = new Set<string>();
  for (const r of all) {
    if (!UUID.test(r.id)) add(r, 'pack rules need a UUID id');
    if (!r.status) add(r, 'pack rules need a status');
    if (!r.description) add(r, 'pack rules need a description');
    const standalone = r.kind === 'correlation' ? !feedsCorrelation.has(r.id) : r.generate;
    if (standalone) {
      if (!r.tags.some((t) => TECHNIQUE.test(t)))
        add(r, 'pack rules need an ATT&CK technique tag (attack.tNNNN)');
      if (!r.tags.some((t) => t.startsWith('attack.') && TACTICS.has(t.slice(7)))) {
        add(r, 'pack rules need an ATT&CK tactic tag (attack.defense_evasion, …)');
      }
      if (!('level' in r.doc)) add(r, 'pack rules need a level');
    }
    if (r.kind === 'detection' && r.branches.length === 0) {
      add(r, `no pipeline maps the log source ${JSON.stringify(r.logsource)}, so the rule never runs`);
    }
    if (r.kind === 'correlation' && r.groupBy.length === 0 && r.type !== 'temporal') {
      add(r, 'pack correlations need group-by (one group for all events is rarely meant)');
    }
    if (standalone) standaloneFiles.add(r.file);
  }
  for (const file of new Set(all.map((r) => r.file))) {
    const samplesFile = samplesFileFor(file);
    if (existsSync(samplesFile)) issues.push(...loadSamples(samplesFile).issues);
    else if (standaloneFiles.has(file)) {
      issues.push({
        kind: 'invalid',
        file,
        line: 1,
        message: `pack rules need samples: ${samplesFile} is missing`,
      });
    }
  }
  return issues;
}

import { type DetectorRule, lintOf } from '../types.ts';
import type { CompiledCorrelation, CompiledRule, RuleSet } from './ruleset.ts';

const TECHNIQUE_TAG = /^attack\.t\d{4}(\.\d{3})?$/i;

/**
 * The loaded rules of a rule set as the console lists them, each with what a
 * reviewer should know: problems the loader recorded against it (errors), and
 * warnings — the loader's, a log source no pipeline maps (the rule never sees
 * an event), no ATT&CK technique tag (it counts toward no coverage), a
 * deprecated or unsupported status.
 *
 * @example sigmaCatalogue(buildSigma(config).ruleSet).find((r) => r.lint.state !== 'ok')
 */
export function sigmaCatalogue(ruleSet: RuleSet): DetectorRule[] {
  const issuesOf = new Map<string, Array<{ kind: string; message: string; line?: number }>>();
  for (const i of ruleSet.issues) {
    if (!i.rule) continue;
    let list = issuesOf.get(i.rule);
    if (!list) {
      list = [];
      issuesOf.set(i.rule, list);
    }
    list.push(i);
  }
  const all: Array<CompiledRule | CompiledCorrelation> = [...ruleSet.rules, ...ruleSet.correlations];
  const sourcesOf = ruleSources(ruleSet);
  return all.map((r) => {
    const errors: string[] = [];
    const warnings: string[] = [];
    for (const i of [
      ...(issuesOf.get(r.id) ?? []),
      ...(r.title !== r.id ? (issuesOf.get(r.title) ?? []) : []),
    ]) {
      const text = i.line ? `line ${i.line}: ${i.message}` : i.message;
      (i.kind === 'warning' ? warnings : errors).push(text);
    }
    if (r.kind === 'detection' && r.branches.length === 0)
      warnings.push(
        `no pipeline maps its log source ${JSON.stringify(r.logsource)}, so it never sees an event`,
      );
    if (!r.tags.some((t) => TECHNIQUE_TAG.test(t)))
      warnings.push('no ATT&CK technique tag (attack.tNNNN), so it counts toward no coverage');
    if (r.status === 'deprecated' || r.status === 'unsupported') warnings.push(`status is ${r.status}`);
    const rule: DetectorRule = {
      id: r.id,
      title: r.title,
      engine: r.kind === 'correlation' ? 'correlation' : 'sigma',
      level: r.level,
      tags: [...r.tags],
      lint: lintOf(errors, warnings),
    };
    if (r.status) rule.status = r.status;
    rule.sources = [...(sourcesOf.get(r.id) ?? [])].sort();
    if (r.kind === 'detection') {
      const { product, service, category } = r.logsource;
      const logsource: NonNullable<DetectorRule['logsource']> = {};
      if (typeof product === 'string') logsource.product = product;
      if (typeof service === 'string') logsource.service = service;
      if (typeof category === 'string') logsource.category = category;
      rule.logsource = logsource;
    }
    return rule;
  });
}

/**
 * The source types each rule reads: a detection rule's pipeline branches,
 * a correlation's referenced rules (chains followed, each rule once).
 *
 * @example ruleSources(ruleSet).get(ruleId) // Set { 'zeek', 'suricata' }
 */
export function ruleSources(ruleSet: RuleSet): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const visit = (r: CompiledRule | CompiledCorrelation, seen: Set<string>): Set<string> => {
    const known = out.get(r.id);
    if (known) return known;
    const found = new Set<string>();
    if (r.kind === 'detection') for (const b of r.branches) found.add(b.source);
    else if (!seen.has(r.id)) {
      seen.add(r.id);
      for (const ref of r.rules) {
        const target = ruleSet.get(ref);
        if (target) for (const s of visit(target, seen)) found.add(s);
      }
    }
    out.set(r.id, found);
    return found;
  };
  for (const r of [...ruleSet.rules, ...ruleSet.correlations]) visit(r, new Set());
  return out;
}

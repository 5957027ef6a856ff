import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A rule of the Wazuh ruleset (`rules/*.xml`), as far as triage needs it. */
export interface WazuhRule {
  id: string;
  level: number;
  description: string;
  groups: string[];
  mitre: string[];
  file: string;
}

/** A test case of the Wazuh ruleset (`testing/tests/*.ini`): a raw log line that must fire a rule. */
export interface WazuhRuleTest {
  file: string;
  title: string;
  decoder: string;
  rule: string;
  /** The level Wazuh's test expects the alert to have. */
  alert?: number;
  line: string;
}

function decodeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}

/**
 * Read every rule of a Wazuh rules directory. Groups come from the rule's own
 * `<group>` and from the enclosing `<group name="…">` element.
 */
export function readWazuhRules(dir: string): Map<string, WazuhRule> {
  const out = new Map<string, WazuhRule>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.xml'))
    .sort()) {
    const xml = readFileSync(join(dir, file), 'utf8').replace(/<!--[\s\S]*?-->/g, '');
    // The enclosing `<group name="…">` of each rule: the last one opened before it.
    const opens = [...xml.matchAll(/<group name="([^"]*)">/g)].map((m) => ({
      at: m.index ?? 0,
      groups: m[1]!
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean),
    }));
    for (const m of xml.matchAll(/<rule\s+id="(\d+)"\s+level="(\d+)"[^>]*>([\s\S]*?)<\/rule>/g)) {
      const at = m.index ?? 0;
      const outer = opens.filter((o) => o.at < at).at(-1)?.groups ?? [];
      const body = m[3]!;
      const inner = (/<group>([^<]*)<\/group>/.exec(body)?.[1] ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
      out.set(m[1]!, {
        id: m[1]!,
        level: Number(m[2]),
        description: decodeXml(/<description>([\s\S]*?)<\/description>/.exec(body)?.[1] ?? ''),
        groups: [...new Set([...outer, ...inner])],
        mitre: [...body.matchAll(/<id>(T\d{4}(?:\.\d{3})?)<\/id>/g)].map((x) => x[1]!),
        file,
      });
    }
  }
  return out;
}

/** Read every `pass` line of the ruleset tests (a `fail` line must not fire the rule, so it says nothing about it). */
export function readWazuhRuleTests(dir: string): WazuhRuleTest[] {
  const out: WazuhRuleTest[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.ini'))
    .sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const block of text.split(/^\[/m).slice(1)) {
      const title = block.slice(0, block.indexOf(']'));
      const rule = /^rule\s*=\s*(\d+)/m.exec(block)?.[1];
      if (!rule) continue;
      const decoder = /^decoder\s*=\s*(\S*)/m.exec(block)?.[1] ?? '';
      const alert = /^alert\s*=\s*(\d+)/m.exec(block)?.[1];
      for (const m of block.matchAll(/^log \d+ pass\s*=\s*(.*)$/gm)) {
        out.push({ file, title, decoder, rule, ...(alert ? { alert: Number(alert) } : {}), line: m[1]! });
      }
    }
  }
  return out;
}

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SigmaIssue } from './issues.ts';
import type { ParseCache } from './parse-cache.ts';
import { type LocatedDoc, parseYamlDocs } from './yaml-doc.ts';

/** Rule files are YAML; `<rule>.samples.yml` files hold test samples, not rules. */
export function isRuleFile(name: string): boolean {
  return /\.ya?ml$/i.test(name) && !/\.samples\.ya?ml$/i.test(name);
}

/** Rule files under paths (files or directories, recursively), sorted, hidden folders skipped. */
export function listRuleFiles(paths: readonly string[]): { files: string[]; issues: SigmaIssue[] } {
  const files = new Set<string>();
  const issues: SigmaIssue[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (err) {
      issues.push({
        kind: 'invalid',
        file: dir,
        message: `cannot read the directory: ${(err as Error).message}`,
      });
      return;
    }
    for (const name of entries.sort()) {
      if (name.startsWith('.')) continue;
      const p = join(dir, name);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && isRuleFile(name)) files.add(p);
    }
  };
  for (const raw of paths) {
    const p = resolve(raw);
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(p);
    } catch {
      st = undefined;
    }
    if (!st) issues.push({ kind: 'invalid', file: raw, message: 'no such file or directory' });
    else if (st.isDirectory()) walk(p);
    else files.add(p);
  }
  return { files: [...files].sort(), issues };
}

/** A YAML document of a rule file, with where it came from. */
export interface RuleFileDoc extends LocatedDoc {
  file: string;
  /** 0-based position of the document in its file. */
  index: number;
}

/** Read one rule file into its YAML documents (through `cache` when given); unreadable files become an issue. */
export function readRuleFile(file: string, cache?: ParseCache): { docs: RuleFileDoc[]; issue?: SigmaIssue } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      docs: [],
      issue: { kind: 'invalid', file, message: `cannot read the file: ${(err as Error).message}` },
    };
  }
  return { docs: parseRuleText(text, file, cache) };
}

/** Parse rule text (one or more YAML documents); empty documents are dropped. */
export function parseRuleText(text: string, file: string, cache?: ParseCache): RuleFileDoc[] {
  return (cache ? cache.docs(text) : parseYamlDocs(text))
    .map((d, index) => ({ ...d, file, index }))
    .filter((d) => d.error || (d.value !== null && d.value !== undefined));
}

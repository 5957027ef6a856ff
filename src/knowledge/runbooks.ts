import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AisocError, describeError } from '../errors.ts';
import type { KnowledgeDocument } from './documents.ts';

/**
 * Runbooks are Markdown files: optional YAML front matter (`title`,
 * `actions`, `techniques`), then sections. Each section (a heading and the
 * text up to the next heading) becomes one document, so retrieval returns
 * the step that answers a question, not a whole runbook.
 */

const FrontMatter = z.strictObject({
  title: z.string().min(1).optional(),
  summary: z.string().optional(),
  actions: z.array(z.string()).default([]).describe('Response actions the runbook covers (action ids)'),
  techniques: z
    .array(z.string().regex(/^T\d{4}(\.\d{3})?$/, 'must look like T1234 or T1234.001'))
    .default([])
    .describe('ATT&CK techniques the runbook responds to'),
});

export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'section'
  );
}

/**
 * Split one runbook into section documents.
 *
 * @example parseRunbook('# Rotate a secret\n\n## Steps\n1. …', 'rotate-secret.md')[0]?.title // 'Rotate a secret › Steps'
 */
export function parseRunbook(content: string, file: string): KnowledgeDocument[] {
  let body = content.replace(/\r\n/g, '\n');
  let bodyLine = 1;
  let meta = FrontMatter.parse({});
  const fm = /^---\n([\s\S]*?)\n---\n?/.exec(body);
  if (fm) {
    let raw: unknown;
    try {
      raw = parseYaml(fm[1]!);
    } catch (err) {
      throw new AisocError(
        'AISOC_ERR_PARSE',
        `${file}: the front matter is not valid YAML: ${describeError(err)}`,
        {
          file,
          line: 2,
        },
      );
    }
    const r = FrontMatter.safeParse(raw ?? {});
    if (!r.success) {
      const issue = r.error.issues[0];
      const field = issue?.path.join('.') || '(front matter)';
      throw new AisocError(
        'AISOC_ERR_PARSE',
        `${file}: front matter ${field} ${issue?.message ?? 'is invalid'}`,
        {
          file,
          line: 2,
          field,
        },
      );
    }
    meta = r.data;
    bodyLine += fm[0].split('\n').length - 1;
    body = body.slice(fm[0].length);
  }
  const stem = basename(file).replace(/\.md$/i, '');
  const lines = body.split('\n');
  const h1 = lines.find((l) => /^#\s+\S/.test(l));
  const title = meta.title ?? (h1 ? h1.replace(/^#\s+/, '').trim() : stem);

  interface Section {
    path: string[];
    line: number;
    text: string[];
  }
  const sections: Section[] = [];
  const stack: string[] = [];
  let current: Section = { path: [], line: bodyLine, text: [] };
  let fenced = false;
  lines.forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const h = fenced ? null : /^(#{1,6})\s+(.*\S)\s*$/.exec(line);
    if (!h) {
      current.text.push(line);
      return;
    }
    sections.push(current);
    const level = h[1]!.length;
    stack.length = Math.max(0, level - 1);
    stack[level - 1] = h[2]!;
    current = { path: stack.filter(Boolean), line: bodyLine + i, text: [] };
  });
  sections.push(current);

  const docs: KnowledgeDocument[] = [];
  const used = new Set<string>();
  for (const s of sections) {
    const text = s.text.join('\n').trim();
    if (!text) continue;
    // The H1 is the runbook's title; sections under it are named from the H2 down.
    const path =
      s.path.length && s.path[0] === (h1 ? h1.replace(/^#\s+/, '').trim() : undefined)
        ? s.path.slice(1)
        : s.path;
    const heading = path.join(' › ') || 'Overview';
    let id = `${slug(stem)}#${slug(heading)}`;
    for (let n = 2; used.has(id); n++) id = `${slug(stem)}#${slug(heading)}-${n}`;
    used.add(id);
    const metadata: KnowledgeDocument['metadata'] = {
      kind: 'runbook',
      runbook: slug(stem),
      runbook_title: title,
      section: heading,
      file,
      line: s.line,
    };
    if (meta.actions.length) metadata.actions = meta.actions;
    if (meta.techniques.length) metadata.techniques = meta.techniques;
    docs.push({ id, title: `${title} › ${heading}`, text: `${title} › ${heading}\n\n${text}`, metadata });
  }
  return docs;
}

export interface RunbookLoad {
  documents: KnowledgeDocument[];
  files: number;
  /** Files that could not be read or parsed; the others still load. */
  errors: AisocError[];
}

/**
 * Load every `*.md` under the directories (not recursive into dot-folders).
 * A missing user directory is an error; a bad file is reported and skipped.
 *
 * @example loadRunbooks(['content/runbooks']).documents.length
 */
export function loadRunbooks(dirs: readonly string[], root = process.cwd()): RunbookLoad {
  const out: RunbookLoad = { documents: [], files: 0, errors: [] };
  const seen = new Set<string>();
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      out.errors.push(
        new AisocError('AISOC_ERR_CONFIG', `The runbook directory ${dir} does not exist.`, {
          field: 'knowledge.runbook_dirs',
        }),
      );
      continue;
    }
    const files = (readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => f.toLowerCase().endsWith('.md') && !f.split(/[\\/]/).some((p) => p.startsWith('.')))
      .sort();
    for (const f of files) {
      const file = join(dir, f);
      try {
        const docs = parseRunbook(readFileSync(file, 'utf8'), relative(root, file) || file);
        out.files++;
        for (const d of docs) {
          // A user runbook with the name of a built-in one replaces it, section by section.
          if (seen.has(d.id)) out.documents = out.documents.filter((x) => x.id !== d.id);
          seen.add(d.id);
          out.documents.push(d);
        }
      } catch (err) {
        out.errors.push(
          err instanceof AisocError
            ? err
            : new AisocError('AISOC_ERR_PARSE', `${file}: ${describeError(err)}`, { file }),
        );
      }
    }
  }
  return out;
}

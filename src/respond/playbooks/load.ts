import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { conditionPaths } from './conditions.ts';
import { CORE_STEPS, Playbook } from './model.ts';
import { isTemplated, placeholders, TEMPLATE_FILTERS } from './template.ts';

/** What the linter needs to know about an action type. */
export interface ActionInfo {
  type: string;
  effect: 'read-only' | 'reversible' | 'destructive';
  inputSchema: z.ZodType;
}

export interface LintIssue {
  file: string;
  line?: number;
  message: string;
}

export interface LoadedPlaybooks {
  playbooks: Array<Playbook & { file: string }>;
  issues: LintIssue[];
}

/** Context roots a template or condition may read. */
export const CONTEXT_ROOTS = [
  'alert',
  'incident',
  'priority',
  'detection_priority',
  'above_threshold',
  'external_ips',
  'verdict',
  'entities',
  'steps',
  'playbook',
  'subject',
  'config',
];

function lineOf(
  doc: ReturnType<typeof parseDocument>,
  counter: LineCounter,
  path: Array<string | number>,
): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return counter.linePos(node.range[0]).line;
    if (n === 0) {
      const contents = doc.contents as { range?: [number, number, number] } | null;
      if (contents?.range) return counter.linePos(contents.range[0]).line;
    }
  }
  return undefined;
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
  return def && typeof def === 'object' ? def : undefined;
}

function isOptional(schema: z.ZodType): boolean {
  return schema.safeParse(undefined).success;
}

/**
 * Load and lint playbooks from directories: every problem in every file is
 * reported (file, line, message), and only valid playbooks are returned.
 * Inputs are checked against each action's input schema: static values by
 * type, templated ones by field name and placeholder roots.
 */
export function loadPlaybooks(dirs: string[], actions: Map<string, ActionInfo>): LoadedPlaybooks {
  const out: LoadedPlaybooks = { playbooks: [], issues: [] };
  const seen = new Map<string, string>();
  for (const dir of dirs) {
    let files: string[];
    try {
      files = readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => join(dir, f))
        .filter((f) => statSync(f).isFile())
        .sort();
    } catch (err) {
      out.issues.push({ file: dir, message: `cannot read the directory: ${(err as Error).message}` });
      continue;
    }
    for (const file of files) {
      const counter = new LineCounter();
      const text = readFileSync(file, 'utf8');
      const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
      if (doc.errors.length) {
        for (const e of doc.errors)
          out.issues.push({ file, line: e.linePos?.[0]?.line, message: `YAML: ${e.message.split('\n')[0]}` });
        continue;
      }
      const parsed = Playbook.safeParse(doc.toJS());
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
          out.issues.push({
            file,
            line: lineOf(doc, counter, path),
            message: `${path.join('.') || '(root)'}: ${issue.message}`,
          });
        }
        continue;
      }
      const pb = parsed.data;
      const before = out.issues.length;
      const issue = (path: Array<string | number>, message: string) =>
        out.issues.push({ file, line: lineOf(doc, counter, path), message });
      if (seen.has(pb.id)) issue(['id'], `playbook id ${pb.id} is already used by ${seen.get(pb.id)}`);
      const stepIds = new Set<string>();
      pb.steps.forEach((step, i) => {
        if (stepIds.has(step.id)) issue(['steps', i, 'id'], `step id ${step.id} is used twice`);
        stepIds.add(step.id);
        for (const p of conditionPaths(step.if)) {
          if (!CONTEXT_ROOTS.includes(p.split('.')[0]!))
            issue(['steps', i, 'if'], `condition reads ${p}; paths start with ${CONTEXT_ROOTS.join(', ')}`);
        }
        for (const ph of placeholders(step.with)) {
          if (!CONTEXT_ROOTS.includes(ph.path.split('.')[0]!))
            issue(
              ['steps', i, 'with'],
              `placeholder {{ ${ph.path} }} must start with ${CONTEXT_ROOTS.join(', ')}`,
            );
          if (ph.filter && !TEMPLATE_FILTERS.includes(ph.filter))
            issue(
              ['steps', i, 'with'],
              `unknown filter ${ph.filter} (known: ${TEMPLATE_FILTERS.join(', ')})`,
            );
          const ref = /^steps\.([\w-]+)/.exec(ph.path);
          if (ref && !stepIds.has(ref[1]!))
            issue(
              ['steps', i, 'with'],
              `{{ ${ph.path} }} refers to step ${ref[1]}, which does not run before this one`,
            );
        }
        if (step.uses in CORE_STEPS) return;
        const action = actions.get(step.uses);
        if (!action) {
          issue(['steps', i, 'uses'], `unknown step or action ${step.uses}`);
          return;
        }
        const shape = objectShape(action.inputSchema);
        if (!shape) {
          if (!isTemplated(step.with)) {
            const r = action.inputSchema.safeParse(step.with);
            if (!r.success)
              for (const e of r.error.issues)
                issue(
                  ['steps', i, 'with', ...e.path.filter((p): p is string | number => typeof p !== 'symbol')],
                  `${step.uses}: ${e.message}`,
                );
          }
          return;
        }
        for (const [key, value] of Object.entries(step.with)) {
          const field = shape[key];
          if (!field) {
            issue(
              ['steps', i, 'with', key],
              `${step.uses} has no input ${key} (inputs: ${Object.keys(shape).join(', ')})`,
            );
            continue;
          }
          if (isTemplated(value)) continue;
          const r = field.safeParse(value);
          if (!r.success)
            issue(
              ['steps', i, 'with', key],
              `${step.uses} input ${key}: ${r.error.issues[0]?.message ?? 'invalid'}`,
            );
        }
        for (const [key, field] of Object.entries(shape)) {
          if (!(key in step.with) && !isOptional(field))
            issue(['steps', i, 'with'], `${step.uses} needs the input ${key}`);
        }
      });
      pb.policies.forEach((p, i) => {
        const action = actions.get(p.action);
        if (!action) issue(['policies', i, 'action'], `unknown action ${p.action}`);
        for (const path of conditionPaths(p.when)) {
          if (path.startsWith('verdict'))
            issue(
              ['policies', i, 'when'],
              `policies cannot read ${path}: an analyst verdict alone never authorises an action`,
            );
        }
      });
      if (out.issues.length === before) {
        seen.set(pb.id, file);
        out.playbooks.push({ ...pb, file });
      }
    }
  }
  out.playbooks.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  return out;
}

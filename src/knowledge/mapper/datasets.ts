import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AisocError, describeError } from '../../errors.ts';
import type { LabelledText } from './corpus.ts';

/**
 * Labelled text for fitting and measuring the mapper. One format:
 * `{"text": …, "labels": ["T1059.001", …], "doc": …}` per line (JSONL), or a
 * JSON array of such records. `label` (one id) is accepted for `labels`, and
 * `doc_title`, `document` or `source` for `doc`, so TRAM2 exports read as
 * they are.
 */

const TECHNIQUE = /^T\d{4}(?:[./]\d{3})?$/i;

const Record_ = z
  .object({
    text: z.string().min(1, 'must not be empty'),
    labels: z.array(z.string().regex(TECHNIQUE, 'must look like T1234 or T1234.001')).optional(),
    label: z.string().regex(TECHNIQUE, 'must look like T1234 or T1234.001').optional(),
    doc: z.string().optional(),
    doc_title: z.string().optional(),
    document: z.string().optional(),
    source: z.string().optional(),
  })
  .refine((r) => r.labels !== undefined || r.label !== undefined, {
    message: 'needs labels (an array of technique ids) or label',
    path: ['labels'],
  });

/** `t1059/001` → `T1059.001` */
export function normaliseTechniqueId(id: string): string {
  return id.trim().toUpperCase().replace('/', '.');
}

/**
 * Parse labelled records; errors name the line (or array index) and field.
 *
 * @example parseLabelled('{"text":"x","labels":["T1059"]}\n', 'dev.jsonl')
 */
export function parseLabelled(content: string, origin: string): LabelledText[] {
  const trimmed = content.trimStart();
  let records: Array<{ raw: unknown; where: string; line?: number }>;
  if (trimmed.startsWith('[')) {
    let arr: unknown;
    try {
      arr = JSON.parse(content);
    } catch (err) {
      throw new AisocError('AISOC_ERR_BAD_JSON', `${origin} is not valid JSON: ${describeError(err)}`, {
        file: origin,
      });
    }
    records = (arr as unknown[]).map((raw, i) => ({ raw, where: `[${i}]` }));
  } else {
    records = [];
    const lines = content.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (!line) continue;
      try {
        records.push({ raw: JSON.parse(line), where: `line ${i + 1}`, line: i + 1 });
      } catch (err) {
        throw new AisocError(
          'AISOC_ERR_BAD_JSON',
          `${origin} line ${i + 1} is not valid JSON: ${describeError(err)}`,
          {
            file: origin,
            line: i + 1,
          },
        );
      }
    }
  }
  return records.map(({ raw, where, line }) => {
    const r = Record_.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0];
      const field = issue?.path.join('.') || '(record)';
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `${origin} ${where}: ${field} ${issue?.message ?? 'is invalid'}`,
        {
          file: origin,
          line,
          field,
        },
      );
    }
    const d = r.data;
    const labels = [...new Set((d.labels ?? [d.label!]).map(normaliseTechniqueId))];
    const doc = d.doc ?? d.doc_title ?? d.document ?? d.source;
    return doc === undefined ? { text: d.text, labels } : { text: d.text, labels, doc };
  });
}

/** Read a labelled file (JSONL or a JSON array; a `.tsv` file is read as CTI-ATE). */
export function readLabelled(file: string): LabelledText[] {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AisocError('AISOC_ERR_VALIDATION', `Cannot read ${file}: ${describeError(err)}`, {
      file,
      field: 'data',
    });
  }
  if (/\.tsv$/i.test(file)) return ctiAteToLabelled(content, file);
  return parseLabelled(content, file);
}

function hash32(s: string): number {
  return createHash('sha1').update(s, 'utf8').digest().readUInt32BE(0);
}

/** The grouping key of an example: its document, else a hash of its text (so a repeated sentence stays on one side). */
export function documentKey(e: LabelledText): string {
  return e.doc !== undefined ? `doc:${e.doc.trim()}` : `text:${e.text.trim().toLowerCase()}`;
}

export type Split = 'train' | 'dev' | 'test';

/**
 * The split a document belongs to, by a hash of its key: 20% test, 20% dev,
 * 60% train. Every example of a document lands on the same side, and the
 * same document always lands on the same side, whatever file it is read
 * from (TRAM2's single-label and span files share their reports).
 */
export function splitOf(e: LabelledText): Split {
  const b = hash32(documentKey(e)) % 10;
  return b < 2 ? 'test' : b < 4 ? 'dev' : 'train';
}

const AnnoCtrMention = z.object({
  mention: z.string(),
  _context_left: z.string().optional(),
  _context_right: z.string().optional(),
  context_left: z.string().optional(),
  context_right: z.string().optional(),
  label_link: z.string(),
  entity_type: z.string(),
  document: z.string(),
});

/**
 * AnnoCTR entity mentions → labelled sentences: each mention linked to an
 * ATT&CK technique becomes its sentence (left context, mention, right
 * context) labelled with that technique. Mentions of groups, software and
 * tactics are dropped.
 *
 * @example annoctrToLabelled(readFileSync('annoctr-dev.jsonl', 'utf8'), 'annoctr-dev.jsonl')
 */
export function annoctrToLabelled(
  content: string,
  origin: string,
  options: { allMentions?: boolean } = {},
): LabelledText[] {
  const out: LabelledText[] = [];
  // With allMentions, each document's sentences that mention anything (group, software, tactic, technique)
  // are kept once, labelled with the techniques mentioned in them: the report as far as AnnoCTR gives its text.
  const sentences = new Map<string, LabelledText>();
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw new AisocError(
        'AISOC_ERR_BAD_JSON',
        `${origin} line ${i + 1} is not valid JSON: ${describeError(err)}`,
        {
          file: origin,
          line: i + 1,
        },
      );
    }
    const r = AnnoCtrMention.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `${origin} line ${i + 1}: ${issue?.path.join('.') || '(record)'} ${issue?.message ?? 'is invalid'}`,
        { file: origin, line: i + 1, field: issue?.path.join('.') },
      );
    }
    const m = r.data;
    const left = m._context_left ?? (m.context_left ? `${m.context_left} ` : '');
    const right = m._context_right ?? (m.context_right ? ` ${m.context_right}` : '');
    const text = `${left}${m.mention}${right}`.trim();
    const id =
      m.entity_type === 'TECHNIQUE' ? /\/techniques\/(T\d{4})(?:\/(\d{3}))?/.exec(m.label_link) : null;
    const label = id ? (id[2] ? `${id[1]}.${id[2]}` : id[1]!) : undefined;
    if (options.allMentions) {
      const key = `${m.document}\u0000${text}`;
      const e = sentences.get(key) ?? { text, labels: [], doc: m.document };
      if (!sentences.has(key)) {
        sentences.set(key, e);
        out.push(e);
      }
      if (label && !e.labels.includes(label)) e.labels.push(label);
      continue;
    }
    if (!label) continue;
    out.push({ text, labels: [label], doc: m.document });
  }
  return out;
}

/**
 * CTI-Bench's technique-extraction task (CTI-ATE, a TSV with the columns
 * `URL`, `Platform`, `Description`, `Prompt`, `GT`): each description is a
 * report labelled with the comma-separated technique ids of `GT`. The
 * prompt is not read. Rows lacking a description or labels are errors
 * naming the row.
 *
 * @example ctiAteToLabelled('URL\tPlatform\tDescription\tPrompt\tGT\nu\tEnterprise\tIt logs keys.\tp\tT1056\n', 'cti-ate.tsv')
 */
export function ctiAteToLabelled(content: string, origin: string): LabelledText[] {
  const lines = content.split(/\r?\n/);
  const header = (lines[0] ?? '').split('\t').map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  for (const name of ['Description', 'GT'])
    if (col(name) < 0)
      throw new AisocError('AISOC_ERR_VALIDATION', `${origin}: the header has no ${name} column`, {
        file: origin,
        line: 1,
        field: name,
      });
  const out: LabelledText[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i]!.trim()) continue;
    const cells = lines[i]!.split('\t');
    const cell = (name: string) => (cells[col(name)] ?? '').trim().replace(/^"(.*)"$/s, '$1');
    const text = cell('Description');
    const labels = [
      ...new Set(
        cell('GT')
          .split(/[,;\s]+/)
          .filter(Boolean)
          .map(normaliseTechniqueId),
      ),
    ];
    const bad = labels.find((l) => !TECHNIQUE.test(l));
    if (!text || labels.length === 0 || bad)
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `${origin} line ${i + 1}: ${!text ? 'Description is empty' : bad ? `GT holds ${bad}, not a technique id` : 'GT is empty'}`,
        { file: origin, line: i + 1, field: !text ? 'Description' : 'GT' },
      );
    const url = col('URL') >= 0 ? cell('URL') : '';
    out.push({ text, labels, doc: `${url || 'row'}#${i + 1}` });
  }
  return out;
}

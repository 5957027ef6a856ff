import { z } from 'zod';

/** A metadata value: what the /retrieve contract can carry and a filter can compare. */
export const MetadataValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);
export type MetadataValue = z.infer<typeof MetadataValue>;

/** One retrievable document of a collection. */
export interface KnowledgeDocument {
  /** Unique within its collection. */
  id: string;
  /** Indexed with extra weight; shown as a heading. */
  title: string;
  /** The text returned as `document` (plain: no citation markup). */
  text: string;
  metadata: Record<string, MetadataValue>;
}

/** Collection names: lower-case words joined by underscores. */
export const CollectionName = z
  .string()
  .regex(
    /^[a-z][a-z0-9_]{0,63}$/,
    'must be lower-case letters, digits and underscores, starting with a letter',
  )
  .describe('Collection name, e.g. mitre_attack, runbooks, incidents, cve');

/** Text PostgreSQL and JSON consumers accept: no NUL, no lone surrogates. */
export function cleanText(s: string): string {
  return s
    .replaceAll(String.fromCharCode(0), '\uFFFD')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** A document with its text fields cleaned (see {@link cleanText}). */
export function cleanDocument(doc: KnowledgeDocument): KnowledgeDocument {
  const metadata: KnowledgeDocument['metadata'] = {};
  for (const [k, v] of Object.entries(doc.metadata))
    metadata[cleanText(k)] = typeof v === 'string' ? cleanText(v) : Array.isArray(v) ? v.map(cleanText) : v;
  return { id: cleanText(doc.id), title: cleanText(doc.title), text: cleanText(doc.text), metadata };
}

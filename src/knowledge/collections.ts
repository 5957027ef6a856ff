import type { KnowledgeDocument } from './documents.ts';
import { Bm25Index } from './index/bm25.ts';
import type { VectorStore } from './index/vectors.ts';

/**
 * A named set of documents with its lexical index (always) and dense vectors
 * (when an embeddings backend is configured).
 *
 * @example
 * const c = new Collection('runbooks', 'Response runbooks');
 * c.upsert({ id: 'rotate-secret#steps', title: 'Rotate a secret › Steps', text: '…', metadata: {} });
 * c.lexical.search('rotate secret')[0]?.id // 'rotate-secret#steps'
 */
export class Collection {
  readonly lexical = new Bm25Index({ fieldWeights: { title: 2, text: 1 } });
  vectors?: VectorStore;
  private readonly docs = new Map<string, KnowledgeDocument>();

  constructor(
    readonly name: string,
    readonly description: string,
  ) {}

  get size(): number {
    return this.docs.size;
  }

  get(id: string): KnowledgeDocument | undefined {
    return this.docs.get(id);
  }

  documents(): IterableIterator<KnowledgeDocument> {
    return this.docs.values();
  }

  /** Add or replace a document (its vector, if any, is dropped until re-embedded). */
  upsert(doc: KnowledgeDocument): void {
    this.docs.set(doc.id, doc);
    this.lexical.add(doc.id, { title: doc.title, text: doc.text });
    if (this.vectors && this.vectors.hashOf(doc.id) !== documentHash(doc)) this.vectors.remove(doc.id);
  }

  remove(id: string): boolean {
    const had = this.docs.delete(id);
    this.lexical.remove(id);
    this.vectors?.remove(id);
    return had;
  }
}

/** What an embedding of a document depends on: re-embed when it changes. */
export function documentHash(doc: Pick<KnowledgeDocument, 'title' | 'text'>): string {
  // FNV-1a over title and text: cheap, stable, and collisions only cost a missed re-embedding.
  let h = 0x811c9dc5;
  const s = `${doc.title}\n${doc.text}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${h.toString(16)}:${s.length}`;
}

/** The collections every knowledge base has, with what they hold. */
export const BUILTIN_COLLECTIONS: ReadonlyArray<{ name: string; description: string }> = [
  {
    name: 'mitre_attack',
    description:
      'MITRE ATT&CK Enterprise: techniques and sub-techniques, tactics, mitigations, detection strategies, groups, software, campaigns and procedure examples',
  },
  { name: 'runbooks', description: 'Response runbooks (Markdown), one document per section' },
  { name: 'incidents', description: 'Closed incidents and cases, indexed as they close' },
  { name: 'cve', description: 'CVE records from NVD CVE JSON 2.0 feeds' },
];

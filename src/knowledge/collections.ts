import { AisocError } from '../errors.ts';
import type { KnowledgeDocument } from './documents.ts';
import { Bm25Index } from './index/bm25.ts';
import type { VectorStore } from './index/vectors.ts';
import type { SnapshotReader, SnapshotWriter, StringTable } from './snapshot/format.ts';

/**
 * Documents kept in a snapshot as JSON text, decoded one at a time when a
 * search returns them: 18,000 ATT&CK documents cost their UTF-8 bytes, not
 * an object graph on the heap.
 */
export class FrozenDocuments {
  private readonly at = new Map<string, number>();

  private constructor(
    ids: StringTable,
    private readonly json: StringTable,
    private readonly kinds: Uint8Array,
    private readonly kindNames: string[],
  ) {
    for (let i = 0; i < ids.length; i++) this.at.set(ids.get(i), i);
  }

  static writeTo(docs: readonly KnowledgeDocument[], w: SnapshotWriter, prefix: string): void {
    const kindNames: string[] = [];
    const kinds = new Uint8Array(docs.length);
    docs.forEach((d, i) => {
      const k = String(d.metadata.kind ?? '');
      let code = kindNames.indexOf(k);
      if (code < 0) code = kindNames.push(k) - 1;
      if (code > 255)
        throw new AisocError('AISOC_ERR_INTERNAL', 'More than 256 document kinds in one collection.');
      kinds[i] = code;
    });
    w.meta(`${prefix}.kinds`, kindNames);
    w.array(`${prefix}.kind`, kinds);
    w.strings(
      `${prefix}.ids`,
      docs.map((d) => d.id),
    );
    w.strings(
      `${prefix}.json`,
      docs.map((d) => JSON.stringify({ title: d.title, text: d.text, metadata: d.metadata })),
    );
  }

  static readFrom(r: SnapshotReader, prefix: string): FrozenDocuments {
    return new FrozenDocuments(
      r.strings(`${prefix}.ids`),
      r.strings(`${prefix}.json`),
      r.u8(`${prefix}.kind`),
      r.meta<string[]>(`${prefix}.kinds`),
    );
  }

  get size(): number {
    return this.at.size;
  }

  has(id: string): boolean {
    return this.at.has(id);
  }

  get(id: string): KnowledgeDocument | undefined {
    const i = this.at.get(id);
    if (i === undefined) return undefined;
    const d = JSON.parse(this.json.get(i)) as Omit<KnowledgeDocument, 'id'>;
    return { id, title: d.title, text: d.text, metadata: d.metadata };
  }

  /** `metadata.kind` without decoding the document (retrieval filters by it). */
  kind(id: string): string | undefined {
    const i = this.at.get(id);
    return i === undefined ? undefined : this.kindNames[this.kinds[i]!];
  }

  ids(): IterableIterator<string> {
    return this.at.keys();
  }
}

/**
 * A named set of documents with its lexical index (always) and dense vectors
 * (when an embeddings backend is configured). A collection read from a
 * snapshot keeps its documents and index there, frozen; documents added,
 * replaced or removed later live beside them.
 *
 * @example
 * const c = new Collection('runbooks', 'Response runbooks');
 * c.upsert({ id: 'rotate-secret#steps', title: 'Rotate a secret › Steps', text: '…', metadata: {} });
 * c.lexical.search('rotate secret')[0]?.id // 'rotate-secret#steps'
 */
export class Collection {
  readonly lexical: Bm25Index;
  vectors?: VectorStore;
  private readonly docs = new Map<string, KnowledgeDocument>();
  /** Base documents replaced or removed since the snapshot was read. */
  private readonly hidden = new Set<string>();

  constructor(
    readonly name: string,
    readonly description: string,
    private readonly base?: { documents: FrozenDocuments; lexical: Bm25Index },
  ) {
    this.lexical = base?.lexical ?? new Bm25Index({ fieldWeights: { title: 2, text: 1 } });
  }

  /** Write the collection's documents and index to a snapshot (a collection built in memory). */
  writeTo(w: SnapshotWriter, prefix: string): void {
    if (this.base)
      throw new AisocError(
        'AISOC_ERR_INTERNAL',
        'A collection read from a snapshot cannot be written again.',
      );
    FrozenDocuments.writeTo([...this.docs.values()], w, `${prefix}.docs`);
    this.lexical.writeTo(w, `${prefix}.bm25`);
  }

  static readFrom(r: SnapshotReader, prefix: string, name: string, description: string): Collection {
    return new Collection(name, description, {
      documents: FrozenDocuments.readFrom(r, `${prefix}.docs`),
      lexical: Bm25Index.readFrom(r, `${prefix}.bm25`),
    });
  }

  get size(): number {
    return this.docs.size + (this.base ? this.base.documents.size - this.hidden.size : 0);
  }

  get(id: string): KnowledgeDocument | undefined {
    const d = this.docs.get(id);
    if (d || !this.base || this.hidden.has(id)) return d;
    return this.base.documents.get(id);
  }

  /** A document's `metadata.kind`, cheaply. */
  kindOf(id: string): string | undefined {
    const d = this.docs.get(id);
    if (d) return String(d.metadata.kind);
    if (!this.base || this.hidden.has(id)) return undefined;
    return this.base.documents.kind(id);
  }

  /** Every document id (base documents first). */
  *ids(): IterableIterator<string> {
    if (this.base) for (const id of this.base.documents.ids()) if (!this.hidden.has(id)) yield id;
    yield* this.docs.keys();
  }

  /** Every document, decoded as it is reached. */
  *documents(): IterableIterator<KnowledgeDocument> {
    for (const id of this.ids()) {
      const d = this.get(id);
      if (d) yield d;
    }
  }

  /** Add or replace a document (its vector, if any, is dropped until re-embedded). */
  upsert(doc: KnowledgeDocument): void {
    if (this.base?.documents.has(doc.id)) this.hidden.add(doc.id);
    this.docs.set(doc.id, doc);
    this.lexical.add(doc.id, { title: doc.title, text: doc.text });
    if (this.vectors && this.vectors.hashOf(doc.id) !== documentHash(doc)) this.vectors.remove(doc.id);
  }

  remove(id: string): boolean {
    let had = this.docs.delete(id);
    if (this.base?.documents.has(id) && !this.hidden.has(id)) {
      this.hidden.add(id);
      had = true;
    }
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

import type { KnowledgeDocument, MetadataValue } from '../../knowledge/documents.ts';
import { toPgJson } from '../json.ts';
import { fromJson, isoTime, type Queryable } from '../sql.ts';
import type { Row } from './shared.ts';

/** Where a stored document came from. */
export type DocumentOrigin = 'api' | 'incident' | 'case';

export interface StoredDocument extends KnowledgeDocument {
  collection: string;
  origin: DocumentOrigin;
  added_by: string;
  updated_at: string;
}

/**
 * Documents added at run time (POST /knowledge/documents, closed incidents
 * and cases) live in the database, so they survive a restart and every API
 * process of a scaled deployment sees them; built-in content (ATT&CK,
 * runbooks, CVE feeds) is rebuilt from its files instead.
 *
 * @example
 * await store.knowledge.upsert('notes', { id: 'n1', title: 'VPN', text: '…', metadata: {} }, 'api', 'alice');
 */
export class KnowledgeDocumentRepository {
  constructor(private readonly db: Queryable) {}

  async upsert(
    collection: string,
    doc: KnowledgeDocument,
    origin: DocumentOrigin,
    addedBy: string,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO knowledge_documents (collection, id, title, text, metadata, origin, added_by, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, now(), now())
       ON CONFLICT (collection, id) DO UPDATE SET title = EXCLUDED.title, text = EXCLUDED.text,
         metadata = EXCLUDED.metadata, origin = EXCLUDED.origin, added_by = EXCLUDED.added_by, updated_at = now()`,
      [collection, doc.id, doc.title, doc.text, toPgJson(doc.metadata), origin, addedBy],
    );
  }

  async remove(collection: string, id: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM knowledge_documents WHERE collection = $1 AND id = $2', [
      collection,
      id,
    ]);
    return r.rowCount > 0;
  }

  async all(): Promise<StoredDocument[]> {
    const r = await this.db.query<Row>(
      'SELECT collection, id, title, text, metadata, origin, added_by, updated_at FROM knowledge_documents ORDER BY collection, id',
    );
    return r.rows.map((row) => ({
      collection: String(row.collection),
      id: String(row.id),
      title: String(row.title),
      text: String(row.text),
      metadata: fromJson<Record<string, MetadataValue>>(row.metadata),
      origin: String(row.origin) as DocumentOrigin,
      added_by: String(row.added_by),
      updated_at: isoTime(row.updated_at),
    }));
  }
}

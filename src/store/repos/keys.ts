import { createHash, randomBytes } from 'node:crypto';
import { uuidv7 } from '../../ids.ts';
import { isoTime, type Queryable, toNumber } from '../sql.ts';
import type { Row } from './shared.ts';

export const API_SCOPES = ['ingest', 'read', 'analyst', 'responder', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export interface ApiKeyRecord {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiScope[];
  created_at: string;
  last_used_at?: string;
  revoked_at?: string;
}

/** Hash an API key for storage and lookup. Keys are 256-bit random, so one SHA-256 round suffices. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A fresh API key: `aisoc_` + 43 characters of base64url (256 bits). */
export function generateApiKey(): string {
  return `aisoc_${randomBytes(32).toString('base64url')}`;
}

function keyFromRow(r: Row): ApiKeyRecord {
  const rec: ApiKeyRecord = {
    id: String(r.id),
    name: String(r.name),
    prefix: String(r.prefix),
    scopes: (r.scopes as ApiScope[]) ?? [],
    created_at: isoTime(r.created_at),
  };
  if (r.last_used_at != null) rec.last_used_at = isoTime(r.last_used_at);
  if (r.revoked_at != null) rec.revoked_at = isoTime(r.revoked_at);
  return rec;
}

/**
 * The API keys table: hashes only, never the keys themselves.
 *
 * @example
 * const { key } = await store.apiKeys.create('ci', ['ingest']);
 */
export class ApiKeyRepository {
  constructor(private readonly db: Queryable) {}

  /** Create a key; the plain key is returned once and never stored. */
  async create(
    name: string,
    scopes: ApiScope[],
    key: string = generateApiKey(),
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    const record: ApiKeyRecord = {
      id: uuidv7(),
      name,
      prefix: key.slice(0, 12),
      scopes: [...new Set(scopes)],
      created_at: new Date().toISOString(),
    };
    await this.db.query(
      'INSERT INTO api_keys (id, name, prefix, hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [record.id, name, record.prefix, hashApiKey(key), record.scopes, record.created_at],
    );
    return { key, record };
  }

  async findActiveByKey(key: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.db.query<Row>('SELECT * FROM api_keys WHERE hash = $1 AND revoked_at IS NULL', [
      hashApiKey(key),
    ]);
    return r.rows[0] ? keyFromRow(r.rows[0]) : undefined;
  }

  /** Which of these key ids are still active (not revoked, not deleted): long-lived streams ask each poll. */
  async activeIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const r = await this.db.query<Row>(
      'SELECT id::text AS id FROM api_keys WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL',
      [ids],
    );
    return new Set(r.rows.map((row) => String(row.id)));
  }

  async list(): Promise<ApiKeyRecord[]> {
    const r = await this.db.query<Row>('SELECT * FROM api_keys ORDER BY created_at');
    return r.rows.map(keyFromRow);
  }

  /** Revoke by name or id; returns whether a key was revoked. */
  async revoke(nameOrId: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL AND (name = $1 OR id::text = $1)`,
      [nameOrId],
    );
    return r.rowCount > 0;
  }

  async touch(id: string): Promise<void> {
    await this.db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]);
  }

  async hasActiveAdmin(): Promise<boolean> {
    const r = await this.db.query<{ n: unknown }>(
      "SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL AND 'admin' = ANY(scopes)",
    );
    return toNumber(r.rows[0]?.n) > 0;
  }
}

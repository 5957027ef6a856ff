import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The rule this file holds: SQL lives in `src/store/` and nowhere else in
 * the product, so a record family's queries and row mapping are in one
 * module and a second engine or a schema change touches one folder. Tests
 * and files outside `src/` (bench, scripts) may still query the database to
 * check what a run stored.
 */

const SRC = fileURLToPath(new URL('..', import.meta.url));
const STORE = fileURLToPath(new URL('.', import.meta.url));

/**
 * A string literal that opens with an SQL statement (the repository writes
 * keywords in capitals; requiring the statement's shape keeps an HTTP verb
 * such as `'DELETE'` or a log line that merely contains `SELECT` out), or a
 * `.query(…)`/`.exec(…)` call given literal text (a driver call).
 */
const SQL_PATTERNS: RegExp[] = [
  /['"`]\s*(?:SELECT\s+(?:\d+\b|[^'"`]*?\bFROM\s+[a-z_])|INSERT\s+INTO\s|UPDATE\s+[a-z_]+\s+SET\s|DELETE\s+FROM\s|TRUNCATE\s|(?:CREATE|ALTER|DROP)\s+(?:TABLE|INDEX|UNIQUE\s+INDEX|TRIGGER|FUNCTION|VIEW|SCHEMA|DATABASE|EXTENSION)\b|WITH\s+[a-z_]+\s+AS\s*\()/,
  /\.(?:query|exec)\s*(?:<[^>()]*>)?\s*\(\s*['"`]/,
];

/** The 1-based line numbers of `text` where any SQL pattern matches. */
function sqlLines(text: string): number[] {
  const lines = new Set<number>();
  for (const pattern of SQL_PATTERNS) {
    const global = new RegExp(pattern.source, 'g');
    for (let m = global.exec(text); m !== null; m = global.exec(text))
      lines.add(text.slice(0, m.index).split('\n').length);
  }
  return [...lines].sort((a, b) => a - b);
}

function productFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => /\.(?:ts|mts|js|mjs)$/.test(f) && !/\.test\./.test(f))
    .map((f) => join(dir, f));
}

describe('SQL stays in src/store', () => {
  it('recognises the statements the store writes, and not text that only mentions SQL', () => {
    for (const sql of [
      "await db.query('SELECT 1')",
      "'SELECT count(*) AS n FROM events WHERE seq > $1'",
      "'SELECT doc FROM alerts WHERE id = $1'",
      '`INSERT INTO kv (key, value) VALUES ($1, $2)`',
      "'UPDATE api_keys SET revoked_at = now()'",
      "'DELETE FROM work_queue WHERE id = $1'",
      '`\n  SELECT seq, doc FROM events`',
      'client.exec(`CREATE TABLE t (id int)`)',
    ])
      expect(sqlLines(sql), sql).toEqual([1]);
    for (const text of [
      "remote(server, 'DELETE', `/keys/` + name)",
      '"GET /index.php?id=1\' UNION SELECT password FROM users-- HTTP/1.1"',
      "'Select a source for each file'",
      'const m = /^(\\d+)$/.exec(text);',
    ])
      expect(sqlLines(text), text).toEqual([]);
  });

  it('sees the SQL of every record family in src/store/repos (the scan is not blind)', () => {
    const repos = productFiles(join(STORE, 'repos')).filter((f) => !f.endsWith('shared.ts'));
    expect(repos.length).toBeGreaterThan(10);
    for (const file of repos) expect(sqlLines(readFileSync(file, 'utf8')), file).not.toEqual([]);
  });

  it('finds no SQL in product code outside src/store', () => {
    const offenders: string[] = [];
    for (const file of productFiles(SRC)) {
      if (file.startsWith(STORE)) continue;
      const lines = sqlLines(readFileSync(file, 'utf8'));
      if (lines.length) offenders.push(`${relative(SRC, file).split(sep).join('/')}:${lines.join(',')}`);
    }
    expect(offenders, 'SQL belongs in a src/store/ module with a typed method').toEqual([]);
  });
});

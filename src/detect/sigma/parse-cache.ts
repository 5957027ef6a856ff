/**
 * Parsed rule and pipeline files kept between starts. Parsing YAML was the
 * largest part of loading the rules (a quarter of a server's start with the
 * built-in pack, more with SigmaHQ's thousands of rules); reading the same
 * documents back from JSON takes a tenth of it. An entry is keyed by a hash
 * of the file's text (and of this format and the product's version), so an
 * edited file is parsed again; entries not used by a load are dropped when
 * the cache is saved. The cache is an optimisation only: a missing, damaged
 * or unwritable file means parsing, never an error.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VERSION } from '../../version.ts';
import {
  fromStoredDocs,
  jsonExact,
  type LocatedDoc,
  parseYamlDocs,
  type StoredDoc,
  toStoredDocs,
} from './yaml-doc.ts';

/** Bumped whenever what an entry holds changes. */
const FORMAT = 1;

/** The cache file of a data directory. */
export function parseCacheFile(dataDir: string): string {
  return join(dataDir, 'cache', 'sigma-parsed.json');
}

interface CacheFile {
  format: number;
  version: string;
  /** Key → the entry as JSON text (parsed only when used: every use gets objects of its own). */
  entries: Record<string, string>;
}

function isCacheFile(v: unknown): v is CacheFile {
  const f = v as Partial<CacheFile> | null;
  return (
    typeof f === 'object' &&
    f !== null &&
    f.format === FORMAT &&
    f.version === VERSION &&
    typeof f.entries === 'object' &&
    f.entries !== null &&
    Object.values(f.entries).every((e) => typeof e === 'string')
  );
}

/**
 * @example
 * const cache = ParseCache.open(parseCacheFile(dataDir));
 * const docs = cache.docs(text); // as parseYamlDocs(text)
 * cache.save();
 */
export class ParseCache {
  /** Entries used (or made) by this load: what {@link save} writes. */
  private readonly used = new Map<string, string>();
  hits = 0;
  misses = 0;

  private constructor(
    readonly file: string | undefined,
    private readonly stored: ReadonlyMap<string, string>,
  ) {}

  /** The cache in `file` (none: a cache that only remembers within this process). */
  static open(file?: string): ParseCache {
    let stored = new Map<string, string>();
    if (file) {
      try {
        const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
        if (isCacheFile(parsed)) stored = new Map(Object.entries(parsed.entries));
      } catch {
        // Missing or damaged: every file is parsed, and save() writes a new cache.
      }
    }
    return new ParseCache(file, stored);
  }

  private key(kind: string, text: string): string {
    return createHash('sha256')
      .update(`${FORMAT}\u0000${VERSION}\u0000${kind}\u0000`)
      .update(text)
      .digest('hex');
  }

  private lookup(key: string): unknown {
    const json = this.used.get(key) ?? this.stored.get(key);
    if (json === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(json);
      this.used.set(key, json);
      this.hits++;
      return value;
    } catch {
      return undefined;
    }
  }

  /** The documents of a rule file's text, as {@link parseYamlDocs} gives them. */
  docs(text: string): LocatedDoc[] {
    const key = this.key('docs', text);
    const hit = this.lookup(key);
    if (Array.isArray(hit)) return fromStoredDocs(hit as StoredDoc[]);
    this.misses++;
    const docs = parseYamlDocs(text);
    const stored = toStoredDocs(docs);
    if (stored) this.used.set(key, JSON.stringify(stored));
    return docs;
  }

  /** The value of a one-document YAML text (a pipeline file), as `yaml`'s parse gives it; its errors are thrown. */
  value(text: string): unknown {
    const key = this.key('value', text);
    const hit = this.lookup(key) as { value: unknown } | undefined;
    if (hit && typeof hit === 'object' && 'value' in hit) return hit.value;
    this.misses++;
    const value: unknown = parseYaml(text);
    if (jsonExact(value)) this.used.set(key, JSON.stringify({ value }));
    return value;
  }

  /**
   * Write the entries this load used, when they differ from the file's
   * (something was parsed, or something is no longer used). Never throws:
   * false when the file could not be written.
   */
  save(): boolean {
    if (!this.file) return true;
    const stale = [...this.stored.keys()].some((k) => !this.used.has(k));
    if (this.misses === 0 && !stale && this.used.size === this.stored.size) return true;
    const body: CacheFile = { format: FORMAT, version: VERSION, entries: Object.fromEntries(this.used) };
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, JSON.stringify(body), { mode: 0o600 });
      renameSync(tmp, this.file);
      return true;
    } catch {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // Nothing was written.
      }
      return false;
    }
  }
}

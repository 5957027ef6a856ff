/** Field names whose values are withheld wherever they appear in results and errors. */
const SECRET_KEY =
  /pass(word|wd)?$|secret|token$|authorization|api[-_]?key|routing[-_]?key|webhook[-_]?url|private[-_]?key|credential/i;

/** What replaces a withheld value. */
export const REDACTED = '[redacted]';

/**
 * Withholds secrets from anything an action returns, logs or throws: every
 * registered secret value is replaced wherever it occurs in a string, and
 * fields with secret-looking names are withheld whole. Secrets are
 * registered when an action reads them from the environment.
 *
 * @example
 * const r = new Redactor();
 * r.add(process.env.SLACK_URL);
 * r.value({ message: `POST ${process.env.SLACK_URL} failed` }); // { message: 'POST [redacted] failed' }
 */
export class Redactor {
  readonly #secrets = new Set<string>();

  /** Register a secret value. Short values (under 4 characters) would redact ordinary text and are ignored. */
  add(secret: string | undefined): void {
    if (secret !== undefined && secret.length >= 4) this.#secrets.add(secret);
  }

  /** Whether any secret is registered. */
  get size(): number {
    return this.#secrets.size;
  }

  text(s: string): string {
    let out = s;
    // Longest first, so a secret that contains another is withheld whole.
    for (const secret of [...this.#secrets].sort((a, b) => b.length - a.length)) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    return out;
  }

  /** A deep copy of `v` with secrets withheld (cycles and depth beyond 20 are cut). */
  value<T>(v: T): T {
    return this.#walk(v, 0, new WeakSet()) as T;
  }

  #walk(v: unknown, depth: number, seen: WeakSet<object>): unknown {
    if (typeof v === 'string') return this.text(v);
    if (typeof v !== 'object' || v === null) return v;
    if (depth > 20 || seen.has(v)) return '[cut]';
    seen.add(v);
    if (Array.isArray(v)) return v.map((x) => this.#walk(x, depth + 1, seen));
    if (v instanceof Date) return v.toISOString();
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] =
        SECRET_KEY.test(k) && x !== undefined && x !== null ? REDACTED : this.#walk(x, depth + 1, seen);
    }
    return out;
  }
}

const CENSOR = '[redacted]';

/**
 * Patterns that look like credentials whatever their value: bearer tokens,
 * OpenAI-style keys, SigV4 signatures and credentials, passwords in URLs,
 * and `api_key=`-style assignments. Endpoints echo these in error bodies.
 */
const PATTERNS: Array<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${CENSOR}`],
  [/\b(?:sk|rk|pk)-[A-Za-z0-9_*-]{12,}/g, CENSOR],
  [/(Credential=)[^,\s"]+/g, `$1${CENSOR}`],
  [/(Signature=)[0-9a-f]{16,}/gi, `$1${CENSOR}`],
  [/(\/\/)[^/\s:@]+:[^/\s@]+@/g, `$1${CENSOR}@`],
  [
    /((?:api[_-]?key|secret[_-]?access[_-]?key|session[_-]?token|password|x-api-key)["']?\s*[:=]\s*["']?)[^\s"',&}]+/gi,
    `$1${CENSOR}`,
  ],
];

/**
 * Removes secrets from text before it reaches an error message or a log
 * line: every known secret value (and its URL- and JSON-escaped forms), and
 * anything shaped like a credential.
 *
 * @example
 * new Redactor(['sk-live-123456789']).redact('401: Incorrect API key sk-live-123456789')
 * // → '401: Incorrect API key [redacted]'
 */
export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: readonly string[]) {
    const forms = new Set<string>();
    for (const s of secrets) {
      // Very short values would censor ordinary words; real keys are long.
      if (s.length < 6) continue;
      forms.add(s);
      forms.add(encodeURIComponent(s));
      forms.add(JSON.stringify(s).slice(1, -1));
    }
    // Longest first, so a secret that contains another is removed whole.
    this.secrets = [...forms].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join(CENSOR);
    for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
    return out;
  }

  /** Redact every string inside a JSON-like value (error details). */
  redactDeep<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v)) as T;
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.redactDeep(v);
      return out as T;
    }
    return value;
  }
}

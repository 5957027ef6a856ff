import { isIPv4, isIPv6 } from 'node:net';
import type { EntityKind, LlmBackend, LlmRequest, LlmResult } from '../llm/types.ts';
import { DATAMARK_CHARS } from './spotlight.ts';

/** Token prefixes, one per kind of value. */
const PREFIX: Record<EntityKind, string> = {
  ip: 'IP',
  user: 'USER',
  host: 'HOST',
  email: 'EMAIL',
  account: 'ACCT',
  access_key: 'KEY',
};
const KIND_OF_PREFIX: Record<string, EntityKind> = Object.fromEntries(
  Object.entries(PREFIX).map(([k, p]) => [p, k as EntityKind]),
);

/**
 * Values left as they are: they identify no one, and the model needs them
 * to reason (a root login, the instance metadata address, a service account
 * that ships with the OS). Compared case-insensitively.
 */
export const DEFAULT_KEEP: readonly string[] = [
  'root',
  'admin',
  'administrator',
  'system',
  'local system',
  'localsystem',
  'nt authority\\system',
  'network service',
  'local service',
  'nobody',
  'guest',
  'daemon',
  'www-data',
  'ec2-user',
  'ubuntu',
  'centos',
  'unknown',
  'anonymous',
  'n/a',
  'null',
  'none',
  '-',
  '0.0.0.0',
  '127.0.0.1',
  '255.255.255.255',
  '169.254.169.254',
  '::',
  '::1',
  'localhost',
];

// A letter, digit or underscore before/after: not a whole value.
const B = '(?<![\\p{L}\\p{N}_])';
const E = '(?![\\p{L}\\p{N}_])';
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
// A separator: whitespace, or a datamarking character standing in for it (see spotlight.ts).
const SEP = `[\\s${DATAMARK_CHARS.join('')}]`;
// Characters that end an unquoted value (spotlight brackets included: a marker is never part of a value).
const VALUE_END = `\\s"',;{}\\[\\]⟦⟧${DATAMARK_CHARS.join('')}`;
// A spotlight begin marker, which may sit between a field label and its value.
const BEGIN = '(?:⟦DATA [a-z]{16}⟧)?';
// A spotlight end marker, which closes a field label that came from the data (a marked key).
const END = '(?:⟦/DATA [a-z]{16}⟧)?';

/** Case-insensitive form of a literal, without the `i` flag (which would loosen every other pattern). */
function ci(literal: string): string {
  return [...literal]
    .map((c) =>
      c.toLowerCase() !== c.toUpperCase() ? `[${c.toLowerCase()}${c.toUpperCase()}]` : escapeRegex(c),
    )
    .join('');
}

/**
 * Patterns found without being told, in priority order (the first
 * alternative wins at a position). Quantifiers are bounded so that a long
 * hostile log line cannot make matching quadratic.
 */
const PATTERNS: Array<[string, string]> = [
  // Token-shaped text already in the input: replaced too, so restoring is exact.
  ['token', `${B}(?:IP|USER|HOST|EMAIL|ACCT|KEY)_\\d{1,6}${E}`],
  ['email', `${B}[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\\.){1,8}[A-Za-z]{2,24}${E}`],
  ['arn', `arn:aws[a-z-]{0,16}:(?:iam|sts)::\\d{12}:(?:user|assumed-role|role|group)/[^${VALUE_END}]{1,256}`],
  [
    'access_key',
    '(?<![A-Z0-9])(?:AKIA|ASIA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])',
  ],
  [
    'user_field',
    `${B}(?:${ci('user')}(?:[_-]?${ci('name')})?|${ci('login')}|${ci('account_name')}|${ci('src_user')}|${ci('dst_user')}|${ci('target')}_?${ci('user')}(?:_?${ci('name')})?|${ci('subject')}_?${ci('user')}(?:_?${ci('name')})?)${END}"?${SEP}{0,3}[=:]${SEP}{0,3}"?${BEGIN}(?=[\\p{L}\\p{N}])`,
  ],
  // Command lines: `aws iam delete-user --user-name jdoe`, `net user jdoe`.
  ['cli_user', `--${ci('user')}(?:-${ci('name')})?(?:=|${SEP}{1,3})${BEGIN}(?=[\\p{L}\\p{N}])`],
  [
    'sshd_user',
    `${B}(?:for|by)${SEP}(?:(?:invalid|illegal)${SEP}user${SEP})?(?=[A-Za-z0-9._-]{1,64}${SEP}from${SEP})`,
  ],
  // Not after `Name/`: `Chrome/120.0.0.0` is a version, not an address.
  ['ipv4', `(?<![\\p{N}.])(?<![A-Za-z]/)(?:${OCTET}\\.){3}${OCTET}(?![\\p{N}]|\\.\\d)`],
  [
    'ipv6',
    `(?<![\\p{L}\\p{N}_:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:${OCTET}\\.){3}${OCTET})?(?![\\p{L}\\p{N}_:])`,
  ],
  ['account', '(?<![\\p{L}\\p{N}_-])\\d{12}(?![\\p{L}\\p{N}_-])'],
  [
    'host',
    `${B}(?:(?:[A-Za-z0-9-]{1,63}\\.){1,8}(?:${['local', 'internal', 'corp', 'lan', 'intranet', 'localdomain', 'home.arpa'].map(ci).join('|')})|ip-\\d{1,3}-\\d{1,3}-\\d{1,3}-\\d{1,3}(?:\\.[A-Za-z0-9-]{1,63}){0,6}|(?:DESKTOP|LAPTOP|WIN|WS|SRV)-[A-Z0-9]{4,15})${E}`,
  ],
];

/** Escape a literal for a `u`-mode regex (which refuses needless escapes such as `\\-`). */
function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * A registered value as a pattern: case-insensitive; whitespace inside it
 * matches any run of non-alphanumerics, so the value is still found after
 * datamarking replaced its spaces (`John‸Smith`); a backslash matches its
 * JSON-escaped form too (`CORP\\jdoe` in a serialised record).
 */
function valuePattern(value: string): string {
  return value
    .trim()
    .split(/\s+/)
    .map((word) =>
      [...word]
        .map((c) => {
          if (c === '\\') return '\\\\{1,2}';
          return c.toLowerCase() !== c.toUpperCase()
            ? `[${c.toLowerCase()}${c.toUpperCase()}]`
            : escapeRegex(c);
        })
        .join(''),
    )
    .join('[^\\p{L}\\p{N}]+');
}

/**
 * Replaces identifying values with stable tokens (`IP_1`, `USER_2`,
 * `HOST_3`, `EMAIL_1`, `ACCT_1`, `KEY_1`) and restores them. One instance
 * per request: the same value gets the same token in every field and in
 * free text, and a token never changes meaning within the request.
 *
 * Found without being told: IPv4 and IPv6 addresses, emails, AWS account
 * ids (12 digits) and access key ids, IAM users and role sessions in ARNs,
 * user names in `user=`/`"user":` fields and sshd `for … from` lines, and
 * internal host names (`*.internal`, `*.corp`, `*.local`, `ip-10-0-0-1…`,
 * `DESKTOP-…`). Found because the caller registered them: any other user or
 * host name. Public domain names and URLs are kept (they are indicators the
 * model must see, not identities); so are the values in {@link DEFAULT_KEEP}.
 *
 * @example
 * const p = new Pseudonymiser();
 * p.register('user', 'jdoe');
 * p.apply('jdoe logged in from 203.0.113.7'); // → 'USER_1 logged in from IP_1'
 * p.restore('USER_1 at IP_1 is suspicious');  // → 'jdoe at 203.0.113.7 is suspicious'
 */
export class Pseudonymiser {
  private readonly tokens = new Map<string, string>();
  private readonly values = new Map<string, { kind: EntityKind; value: string }>();
  private readonly counters = new Map<EntityKind, number>();
  /** Values replaced wherever they occur: registered ones, and user/host names the patterns discovered. */
  private readonly known = new Map<string, EntityKind>();
  private readonly keep: Set<string>;
  private regex: RegExp | undefined;
  private knownSticky: RegExp | undefined;

  constructor(options: { keep?: readonly string[] } = {}) {
    this.keep = new Set((options.keep ?? DEFAULT_KEEP).map((k) => k.toLowerCase()));
  }

  private kept(value: string): boolean {
    return this.keep.has(value.replaceAll('\\\\', '\\').toLowerCase());
  }

  /** The token for a value, creating one on first sight. Kept values come back unchanged. */
  tokenFor(kind: EntityKind, value: string): string {
    if (this.kept(value)) return value;
    // User and host names and e-mails compare case-insensitively (Windows, DNS); the rest exactly.
    const key = `${kind}\u0000${kind === 'user' || kind === 'host' || kind === 'email' ? value.toLowerCase() : value}`;
    let token = this.tokens.get(key);
    if (!token) {
      const n = (this.counters.get(kind) ?? 0) + 1;
      this.counters.set(kind, n);
      token = `${PREFIX[kind]}_${n}`;
      this.tokens.set(key, token);
      this.values.set(token, { kind, value });
    }
    return token;
  }

  /**
   * Tell the pseudonymiser about a value that no pattern finds (the alert's
   * user, its host names): it is then replaced wherever it occurs. A host's
   * first label is registered too, so `web-01` goes with
   * `web-01.corp.example.com`; a `DOMAIN\user` registers `user` as well.
   */
  register(kind: EntityKind, value: string | undefined): void {
    const v = value?.trim();
    // One-character values would shred ordinary text.
    if (!v || v.length < 2 || this.kept(v)) return;
    if (!this.known.has(v)) {
      this.known.set(v, kind);
      this.regex = undefined;
      this.knownSticky = undefined;
    }
    this.tokenFor(kind, v);
    if (kind === 'user' && v.includes('\\')) this.register('user', v.slice(v.lastIndexOf('\\') + 1));
    if (kind === 'host' && v.includes('.') && !isIPv4(v)) {
      const label = v.slice(0, v.indexOf('.'));
      if (label.length >= 3) this.register('host', label);
    }
  }

  private pattern(): RegExp {
    if (this.regex) return this.regex;
    const group = ([name, src]: [string, string]) => `(?<${name}>${src})`;
    const known = this.knownSource();
    // Known values come after tokens and e-mails (an e-mail holding a user name stays one e-mail) and before the rest.
    const alternatives = [
      ...PATTERNS.slice(0, 2).map(group),
      ...(known ? [`(?<known>${known})`] : []),
      ...PATTERNS.slice(2).map(group),
    ];
    this.regex = new RegExp(alternatives.join('|'), 'gu');
    return this.regex;
  }

  private knownSource(): string | undefined {
    if (this.known.size === 0) return undefined;
    const values = [...this.known.keys()].sort((a, b) => b.length - a.length);
    return `${B}(?:${values.map(valuePattern).join('|')})${E}`;
  }

  /** A known value starting exactly at `at`, if any. */
  private knownAt(text: string, at: number): string | undefined {
    const src = this.knownSource();
    if (!src) return undefined;
    this.knownSticky ??= new RegExp(src, 'uy');
    this.knownSticky.lastIndex = at;
    return this.knownSticky.exec(text)?.[0];
  }

  /** The registered value a match stands for (matched case-insensitively and through datamarking). */
  private knownValue(match: string): { kind: EntityKind; value: string } {
    const norm = (x: string) =>
      x
        .toLowerCase()
        .replaceAll('\\\\', '\\')
        .replace(/[^\p{L}\p{N}\\]+/gu, ' ');
    const m = norm(match);
    for (const [value, kind] of this.known) if (norm(value) === m) return { kind, value };
    return { kind: 'user', value: match };
  }

  /** A value found after `user=` may be an e-mail or an address rather than a name. */
  private tokenForUserValue(value: string): string {
    if (this.kept(value)) return value;
    if (isIPv4(value) || isIPv6(value)) return this.tokenFor('ip', value);
    if (/^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$/.test(value)) return this.tokenFor('email', value);
    const token = /^(IP|USER|HOST|EMAIL|ACCT|KEY)_\d+$/.exec(value);
    if (token) return this.tokenFor(KIND_OF_PREFIX[token[1]!]!, value);
    return this.discovered('user', value);
  }

  /** A user or host name a pattern found: it gets a token, and is replaced wherever else it occurs. */
  private discovered(kind: 'user' | 'host', value: string): string {
    // Short names (`a`, `db`) would replace ordinary words elsewhere; they are replaced where found only.
    if (value.length >= 3) this.register(kind, value);
    return this.tokenFor(kind, value);
  }

  /** The value that follows a field label at `end`: a known value, a quoted string, or a bare word. */
  private valueAfter(text: string, end: number, quoted: boolean): string | undefined {
    const known = this.knownAt(text, end);
    if (known) return known;
    const re = quoted ? /^(?:[^"\\⟦⟧]|\\.){1,128}(?=")/u : new RegExp(`^[^${VALUE_END}]{1,128}`, 'u');
    return re.exec(text.slice(end, end + 256))?.[0];
  }

  /**
   * Note every identifying value in a text without changing it: user and
   * host names found by a pattern in one place are then replaced in every
   * text of the request, including texts processed before it was found.
   */
  discover(text: string): void {
    this.replace(text);
  }

  /** Replace every identifying value in a text (after discovering what it holds). */
  apply(text: string): string {
    this.discover(text);
    return this.replace(text);
  }

  private replace(text: string): string {
    const re = this.pattern();
    re.lastIndex = 0;
    let out = '';
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const g = m.groups ?? {};
      let end = m.index + m[0].length;
      let replacement = m[0];
      if (g.token !== undefined) replacement = this.tokenFor(KIND_OF_PREFIX[m[0].split('_')[0]!]!, m[0]);
      else if (g.email !== undefined) replacement = this.tokenFor('email', m[0]);
      else if (g.known !== undefined) {
        const { kind, value } = this.knownValue(m[0]);
        replacement = this.tokenFor(kind, value);
      } else if (g.arn !== undefined) replacement = this.arn(m[0]);
      else if (g.access_key !== undefined) replacement = this.tokenFor('access_key', m[0]);
      else if (g.user_field !== undefined || g.cli_user !== undefined || g.sshd_user !== undefined) {
        // The pattern matched the label; the value after it is taken here. A
        // quoted value runs to its closing quote, so `NT AUTHORITY\SYSTEM` stays whole.
        const value = this.valueAfter(text, end, m[0].endsWith('"'));
        if (value) {
          const known = this.knownAt(text, end) === value ? this.knownValue(value) : undefined;
          replacement =
            m[0] + (known ? this.tokenFor(known.kind, known.value) : this.tokenForUserValue(value));
          end += value.length;
        }
      } else if (g.ipv4 !== undefined) replacement = this.tokenFor('ip', m[0]);
      else if (g.ipv6 !== undefined) {
        if (isIPv6(m[0]) && /[0-9a-f]/i.test(m[0])) replacement = this.tokenFor('ip', m[0]);
      } else if (g.account !== undefined) replacement = this.tokenFor('account', m[0]);
      else if (g.host !== undefined) replacement = this.discovered('host', m[0]);
      out += text.slice(last, m.index) + replacement;
      last = end;
      re.lastIndex = Math.max(end, m.index + 1);
    }
    return out + text.slice(last);
  }

  private arn(match: string): string {
    const m = /^(arn:aws[a-z-]*:(?:iam|sts)::)(\d{12})(:)(user|assumed-role|role|group)\/(.+)$/.exec(match);
    if (!m) return match;
    const [, head, account, colon, type, rest] = m as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    let tail = rest;
    if (type === 'user') {
      const slash = rest.lastIndexOf('/');
      tail = rest.slice(0, slash + 1) + this.discovered('user', rest.slice(slash + 1));
    } else if (type === 'assumed-role') {
      // assumed-role/<role>/<session>: the session name is usually a person (an SSO e-mail or user name).
      const slash = rest.indexOf('/');
      if (slash > 0) tail = `${rest.slice(0, slash + 1)}${this.tokenForUserValue(rest.slice(slash + 1))}`;
    }
    return `${head}${this.tokenFor('account', account)}${colon}${type}/${tail}`;
  }

  /** Replace identifying values in every string of a JSON-like value (keys are kept). */
  applyDeep<T>(value: T): T {
    mapStrings(value, (s) => {
      this.discover(s);
      return s;
    });
    return mapStrings(value, (s) => this.replace(s)) as T;
  }

  /** Put the real values back in a text; unknown tokens (a model's invention) stay as they are. */
  restore(text: string): string {
    return text.replace(
      /(?<![\p{L}\p{N}_])(?:IP|USER|HOST|EMAIL|ACCT|KEY)_\d+(?![\p{L}\p{N}_])/gu,
      (t) => this.values.get(t)?.value ?? t,
    );
  }

  /** Put the real values back in every string of a JSON-like value, recursively. */
  restoreDeep<T>(value: T): T {
    return mapStrings(value, (s) => this.restore(s)) as T;
  }

  /** Tokens handed out so far, with the real values (never send this anywhere). */
  mapping(): Array<{ token: string; kind: EntityKind; value: string }> {
    return [...this.values].map(([token, v]) => ({ token, ...v }));
  }

  /**
   * What the model may know about each token without the value: whether an
   * address is private, whether a key is long-term or temporary. Triage
   * depends on these facts, and they identify no one.
   */
  legend(): string[] {
    return this.mapping().map(({ token, kind, value }) => `${token}: ${describe(kind, value)}`);
  }
}

function describe(kind: EntityKind, value: string): string {
  if (/^(?:IP|USER|HOST|EMAIL|ACCT|KEY)_\d+$/.test(value)) return 'text in the data that looks like a token';
  switch (kind) {
    case 'ip':
      return describeIp(value);
    case 'access_key':
      return value.startsWith('ASIA')
        ? 'temporary AWS access key id (ASIA…, from STS)'
        : value.startsWith('AKIA')
          ? 'long-term AWS access key id (AKIA…, an IAM user key)'
          : 'AWS unique id';
    case 'account':
      return 'AWS account id';
    case 'email':
      return 'e-mail address';
    case 'host':
      return 'host name';
    default:
      return 'user name';
  }
}

function describeIp(ip: string): string {
  if (isIPv4(ip)) {
    const [a, b] = ip.split('.').map(Number) as [number, number];
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168))
      return 'private IPv4 (RFC 1918)';
    if (a === 127) return 'loopback IPv4';
    if (a === 169 && b === 254) return 'link-local IPv4';
    if (a === 100 && b >= 64 && b <= 127) return 'carrier-grade NAT IPv4';
    if (a >= 224) return 'multicast or reserved IPv4';
    return 'public IPv4';
  }
  const v = ip.toLowerCase();
  if (/^f[cd]/.test(v)) return 'private IPv6 (unique local)';
  if (/^fe[89ab]/.test(v)) return 'link-local IPv6';
  if (v.startsWith('2001:db8')) return 'documentation IPv6';
  return 'public IPv6';
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapStrings(v, f);
    return out;
  }
  return value;
}

/** The paragraph appended to the system prompt of a pseudonymised request. */
export function pseudonymNotice(legend: string[]): string {
  const lines = [
    'Identifying values in this conversation (IP addresses, user and host names, e-mail addresses, AWS account and access key ids) were replaced by tokens such as IP_1, USER_1, HOST_1, EMAIL_1, ACCT_1 and KEY_1 before it was sent. The same token always stands for the same value. Use the tokens in your answer exactly as written wherever you would use the value.',
  ];
  if (legend.length > 0) lines.push(`What is known about them: ${legend.join('; ')}.`);
  return lines.join('\n');
}

/**
 * Wrap a backend so that nothing identifying leaves in the request: the
 * system prompt and every message are pseudonymised with one
 * {@link Pseudonymiser} per call (the request's `entities` registered first),
 * a notice with the tokens' legend is appended to the system prompt, and
 * every string of the answer (`json`, recursively, and `raw`) is restored.
 * `createLlmBackend` applies it by default to non-local backends.
 *
 * @example
 * const llm = withPseudonymisation(openaiBackend.create(config, ctx));
 * await llm.complete({ ...request, entities: [{ kind: 'user', value: alert.user }] });
 */
export function withPseudonymisation(
  backend: LlmBackend,
  options: { keep?: readonly string[] } = {},
): LlmBackend {
  return {
    name: backend.name,
    model: backend.model,
    local: backend.local,
    async complete(request: LlmRequest): Promise<LlmResult> {
      const p = new Pseudonymiser(options);
      for (const e of request.entities ?? []) p.register(e.kind, e.value);
      // Discover first, over every text, so a name found in one message is replaced in all of them.
      for (const text of [request.system, ...request.messages.map((m) => m.content)]) p.discover(text);
      const messages = request.messages.map((m) => ({ role: m.role, content: p.apply(m.content) }));
      const system = p.apply(request.system);
      const { entities: _known, ...rest } = request;
      const result = await backend.complete({
        ...rest,
        system: `${system}\n\n${pseudonymNotice(p.legend())}`,
        messages,
      });
      return { ...result, json: p.restoreDeep(result.json), raw: p.restore(result.raw) };
    },
  };
}

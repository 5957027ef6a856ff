/**
 * Zeek's default ASCII (TSV) log format. The data lines mean nothing without
 * the header lines before them (`#separator`, `#set_separator`,
 * `#empty_field`, `#unset_field`, `#path`, `#fields`, `#types`), so Zeek
 * frames its own documents: each data line becomes a record shaped like a
 * Zeek JSON record (`_path`, typed values, sets as arrays, unset fields
 * left out), and the normaliser treats both formats alike.
 */
import { type FramedRecord, frameBody } from '../framing.ts';

/** Key a framed TSV record carries when its line cannot be read; the normaliser turns it into a dead letter. */
export const TSV_ERROR = '_zeek_tsv_error';

interface Header {
  separator: string;
  setSeparator: string;
  emptyField: string;
  unsetField: string;
  path?: string;
  fields?: string[];
  types?: string[];
}

/**
 * Zeek's escaping: `\xHH` stands for the byte HH. The bytes are read as
 * UTF-8; bytes that do not form UTF-8 stay written as `\xHH`, the way Zeek's
 * JSON writer shows them, so both formats give the same text.
 *
 * @example unescapeZeek('a\\x09b') // 'a\tb'
 */
export function unescapeZeek(s: string): string {
  if (!s.includes('\\x')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; ) {
    if (s.charCodeAt(i) === 92 && s[i + 1] === 'x' && isHex(s, i + 2) && isHex(s, i + 3)) {
      bytes.push(Number.parseInt(s.slice(i + 2, i + 4), 16));
      i += 4;
      continue;
    }
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    i += ch.length;
  }
  return decodeUtf8Lenient(bytes);
}

function isHex(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Length of the valid UTF-8 sequence starting at i, or 0. */
function utf8Length(b: number[], i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n === 0 || i + n > b.length) return 0;
  for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  // Overlong forms and UTF-16 surrogates are not UTF-8.
  if (c === 0xe0 && b[i + 1]! < 0xa0) return 0;
  if (c === 0xed && b[i + 1]! >= 0xa0) return 0;
  if (c === 0xf0 && b[i + 1]! < 0x90) return 0;
  if (c === 0xf4 && b[i + 1]! >= 0x90) return 0;
  return n;
}

function decodeUtf8Lenient(b: number[]): string {
  let out = '';
  let start = 0;
  let i = 0;
  while (i < b.length) {
    const n = utf8Length(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += Buffer.from(b.slice(start, i)).toString('utf8');
    out += `\\x${b[i]!.toString(16).padStart(2, '0')}`;
    i++;
    start = i;
  }
  return out + Buffer.from(b.slice(start)).toString('utf8');
}

const NUMERIC = new Set(['count', 'int', 'double', 'time', 'interval', 'port']);

/** Element type of a container type: `set[string]` → `string`; undefined when not a container. */
function elementType(type: string): string | undefined {
  const open = type.indexOf('[');
  if (open < 0 || !type.endsWith(']')) return undefined;
  const kind = type.slice(0, open);
  return kind === 'set' || kind === 'vector' || kind === 'table' ? type.slice(open + 1, -1) : undefined;
}

function scalar(raw: string, type: string | undefined, h: Header): unknown {
  if (type !== undefined && NUMERIC.has(type)) {
    // Ports may carry their protocol (`80/tcp`) where Zeek writes them as text.
    const text = type === 'port' ? raw.replace(/\/(tcp|udp|icmp|unknown)$/i, '') : raw;
    const n = Number(text);
    // A value that is not a number stays text; the normaliser refuses it where it matters.
    return text.trim() !== '' && Number.isFinite(n) ? n : unescapeZeek(raw);
  }
  if (type === 'bool') {
    if (raw === 'T') return true;
    if (raw === 'F') return false;
    return unescapeZeek(raw);
  }
  if (raw === h.emptyField) return '';
  return unescapeZeek(raw);
}

function value(raw: string, type: string | undefined, h: Header): unknown {
  const inner = type === undefined ? undefined : elementType(type);
  if (inner === undefined) return scalar(raw, type, h);
  if (raw === h.emptyField) return [];
  return raw.split(h.setSeparator).map((el) => (el === h.unsetField ? null : scalar(el, inner, h)));
}

function directiveValue(v: string): string {
  return unescapeZeek(v);
}

/**
 * Frame a Zeek document: TSV when it starts with a `#` header line, else
 * JSON (one object per line, as Zeek's JSON writer produces). Header lines
 * may repeat (concatenated logs); each applies to the lines after it.
 *
 * @example frameZeek('#separator \\x09\n#fields\tts\tuid\n#types\ttime\tstring\n1700000000.5\tCx1\n')[0].value // { ts: 1700000000.5, uid: 'Cx1' }
 */
export function frameZeek(text: string): FramedRecord[] {
  let first = 0;
  while (
    first < text.length &&
    (text[first] === ' ' || text[first] === '\n' || text[first] === '\r' || text[first] === '\t')
  )
    first++;
  if (text[first] !== '#') return frameBody(text, 'json');
  const h: Header = { separator: '\t', setSeparator: ',', emptyField: '(empty)', unsetField: '-' };
  const out: FramedRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '') continue;
    if (line.charCodeAt(0) === 35) {
      readDirective(line, h);
      continue;
    }
    out.push({ value: readLine(line, h, i + 1), line: i + 1 });
  }
  return out;
}

function readDirective(line: string, h: Header): void {
  // `#separator` is the one directive written with a space: the separator is not known yet.
  if (line.startsWith('#separator ')) {
    const sep = directiveValue(line.slice('#separator '.length));
    if (sep !== '') h.separator = sep;
    return;
  }
  const parts = line.split(h.separator);
  const name = parts[0];
  const rest = parts.slice(1);
  switch (name) {
    case '#set_separator':
      if (rest[0]) h.setSeparator = directiveValue(rest[0]);
      break;
    case '#empty_field':
      if (rest[0] !== undefined) h.emptyField = directiveValue(rest[0]);
      break;
    case '#unset_field':
      if (rest[0] !== undefined) h.unsetField = directiveValue(rest[0]);
      break;
    case '#path':
      h.path = rest[0] === undefined ? undefined : directiveValue(rest[0]);
      break;
    case '#fields':
      h.fields = rest;
      h.types = undefined;
      break;
    case '#types':
      h.types = rest;
      break;
    default:
      // #open, #close and comments carry nothing records need.
      break;
  }
}

function readLine(line: string, h: Header, lineNo: number): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  if (h.path !== undefined) record._path = h.path;
  if (!h.fields) {
    record[TSV_ERROR] = `line ${lineNo} comes before any #fields header`;
    return record;
  }
  const values = line.split(h.separator);
  if (values.length !== h.fields.length) {
    record[TSV_ERROR] =
      `line ${lineNo} has ${values.length} fields where #fields declares ${h.fields.length}`;
    return record;
  }
  const types = h.types !== undefined && h.types.length === h.fields.length ? h.types : undefined;
  for (let k = 0; k < values.length; k++) {
    const raw = values[k]!;
    if (raw === h.unsetField) continue;
    record[h.fields[k]!] = value(raw, types?.[k], h);
  }
  return record;
}

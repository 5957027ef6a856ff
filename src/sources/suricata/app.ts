/**
 * Application-layer objects of EVE records (`dns`, `http`, `tls`, `ssh`,
 * `fileinfo`, `smtp`/`email`). They appear in their own event types and,
 * as context, in `alert` records, so each mapper fills what it can into
 * the event being built.
 */
import type { EventDraft, File } from '../../schema/event.ts';
import { intOf, isObj, type Obj, optInt, optStr, ParseError, portOf, strOf, typeName } from '../fields.ts';
import { isIp, type Observables, omit } from './network.ts';

/**
 * The parts of an event the mappers fill. The event itself is assembled in
 * one object literal at the end: objects grown one property at a time fall
 * out of V8's fast mode and make normalisation several times slower.
 */
export interface Building {
  obs: Observables;
  unmapped: Record<string, unknown>;
  dns?: EventDraft['dns'];
  http?: EventDraft['http'];
  file?: EventDraft['file'];
  /** Server name the client asked for (TLS SNI). */
  serverName?: string;
}

function optArray(o: Obj, key: string, field: string): unknown[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new ParseError(`${field} must be an array, got ${typeName(v)}`, field);
  return v;
}

function hostObservable(b: Building, host: string | undefined, name: string): void {
  if (host === undefined) return;
  if (isIp(host)) b.obs.add('ip', host, name);
  else b.obs.add('domain', host.toLowerCase(), name);
}

// ---------------------------------------------------------------------------

const DNS_MAPPED = new Set(['rrname', 'rrtype', 'rcode', 'rdata']);

/**
 * DNS in its three EVE shapes: version 1 (one record per answer, `rrname`/
 * `rdata`), version 2 (`answers[]` detailed or `grouped` by type), version 3
 * (`queries[]`/`answers[]`), and the `query[]`/`answer` form alerts carry.
 *
 * @example const b = { obs: new Observables(), unmapped: {} }; mapDns({ rrname: 'example.com', rrtype: 'A' }, b); b.dns // { query: 'example.com', qtype: 'A' }
 */
export function mapDns(dns: Obj, b: Building): void {
  let query = optStr(dns, 'rrname', 'dns.rrname');
  let qtype = optStr(dns, 'rrtype', 'dns.rrtype');
  let rcode = optStr(dns, 'rcode', 'dns.rcode');
  for (const key of ['queries', 'query'] as const) {
    const qs = optArray(dns, key, `dns.${key}`);
    const first = qs?.[0];
    if (query === undefined && isObj(first)) {
      query = optStr(first, 'rrname', `dns.${key}[0].rrname`);
      qtype = optStr(first, 'rrtype', `dns.${key}[0].rrtype`);
    }
  }
  const answerObj = dns.answer;
  if (isObj(answerObj)) {
    query ??= optStr(answerObj, 'rrname', 'dns.answer.rrname');
    qtype ??= optStr(answerObj, 'rrtype', 'dns.answer.rrtype');
    rcode ??= optStr(answerObj, 'rcode', 'dns.answer.rcode');
  }
  const answers: string[] = [];
  const rdata = optStr(dns, 'rdata', 'dns.rdata');
  if (rdata !== undefined) answers.push(rdata);
  const detailed = optArray(dns, 'answers', 'dns.answers');
  if (detailed) {
    for (let i = 0; i < detailed.length; i++) {
      const a = detailed[i];
      if (!isObj(a)) continue;
      const d = optStr(a, 'rdata', `dns.answers[${i}].rdata`);
      if (d !== undefined) answers.push(d);
    }
  }
  const grouped = dns.grouped;
  if (isObj(grouped)) {
    for (const type in grouped) {
      const vals = grouped[type];
      if (!Array.isArray(vals)) continue;
      for (const v of vals) {
        if (typeof v === 'string') answers.push(v);
        else if (isObj(v) && typeof v.name === 'string') answers.push(v.name);
      }
    }
  }
  const out: NonNullable<EventDraft['dns']> = {};
  if (query !== undefined) {
    out.query = query;
    b.obs.add('domain', query.toLowerCase(), 'dns.query');
  }
  if (qtype !== undefined) out.qtype = qtype;
  if (rcode !== undefined) out.rcode = rcode;
  if (answers.length > 0) {
    out.answers = answers;
    // Resolved addresses are what intelligence matches against; keep a bounded number.
    for (let i = 0; i < answers.length && i < 16; i++)
      if (isIp(answers[i]!)) b.obs.add('ip', answers[i], 'dns.answers');
  }
  b.dns = out;
  const rest = omit(dns, DNS_MAPPED);
  if (rest) b.unmapped.dns = rest;
}

// ---------------------------------------------------------------------------

const HTTP_MAPPED = new Set(['hostname', 'url', 'http_method', 'http_user_agent', 'status', 'http_refer']);

const ABSOLUTE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The URL a request named: absolute already (proxy requests), or host + port + path.
 *
 * @example absoluteUrl('example.org', 8080, '/a?b=1') // 'http://example.org:8080/a?b=1'
 */
export function absoluteUrl(host: string | undefined, port: number | undefined, path: string): string {
  // A path starting with `/` (nearly all) cannot be absolute: no regular expression for those.
  if (path.charCodeAt(0) !== 47 && ABSOLUTE.test(path)) return path;
  if (host === undefined) return path;
  const h = host.includes(':') && !host.startsWith('[') && isIp(host) ? `[${host}]` : host;
  const p = port !== undefined && port !== 80 ? `:${port}` : '';
  return `http://${h}${p}${path.startsWith('/') ? path : `/${path}`}`;
}

/**
 * An HTTP status code: an integer 0–999, named in the error otherwise.
 *
 * @example statusCode({ status: '404' }, 'status', 'http.status') // 404
 */
export function statusCode(o: Obj, key: string, field: string): number | undefined {
  return httpStatus(o[key], field);
}

/** {@link statusCode} of a value already read. */
export function httpStatus(v: unknown, field: string): number | undefined {
  const n = intOf(v, field);
  if (n !== undefined && (n < 0 || n > 999))
    throw new ParseError(`${field} must be an HTTP status code, got ${n}`, field);
  return n;
}

/** EVE `http`: method, URL (made absolute from hostname + path), user agent, status, referrer. */
export function mapHttp(http: Obj, b: Building): void {
  // Fields read by name: see strOf in ../fields.ts.
  const hostname = strOf(http.hostname, 'http.hostname');
  const path = strOf(http.url, 'http.url');
  const port = portOf(http.http_port, 'http.http_port');
  const method = strOf(http.http_method, 'http.http_method');
  const ua = strOf(http.http_user_agent, 'http.http_user_agent');
  const status = httpStatus(http.status, 'http.status');
  const referrer = strOf(http.http_refer, 'http.http_refer');
  const out: NonNullable<EventDraft['http']> = {};
  if (method !== undefined) out.method = method;
  if (path !== undefined) {
    out.url = absoluteUrl(hostname, port, path);
    b.obs.add('url', out.url, 'http.url');
  }
  if (hostname !== undefined) {
    out.hostname = hostname;
    hostObservable(b, hostname, 'http.hostname');
  }
  if (ua !== undefined) {
    out.user_agent = ua;
    b.obs.add('user_agent', ua, 'http.user_agent');
  }
  if (status !== undefined) out.status_code = status;
  if (referrer !== undefined) out.referrer = referrer;
  b.http = out;
  // The path as sent is kept beside the absolute URL: detections on web logs match on it.
  if (path !== undefined) b.unmapped.http = withUri(path, http);
  else {
    const rest = omit(http, HTTP_MAPPED);
    if (rest) b.unmapped.http = rest;
  }
}

/**
 * `{ uri: path, ...omit(http, HTTP_MAPPED) }` in one pass, without the
 * intermediate object. A `__proto__` key is left out, as the spread of
 * omit's copy (where it set the prototype) left it out.
 */
function withUri(path: string, http: Obj): Obj {
  const out: Obj = { uri: path };
  for (const k in http) {
    if (HTTP_MAPPED.has(k) || k === '__proto__') continue;
    const v = http[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------

const TLS_BLOBS = new Set(['certificate', 'chain']);

function fingerprintHash(o: Obj, key: string, field: string, b: Building): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (isObj(v)) {
    const hash = optStr(v, 'hash', `${field}.hash`);
    b.obs.add('hash', hash, `${field}.hash`);
    return hash;
  }
  if (typeof v === 'string') {
    b.obs.add('hash', v, field);
    return v;
  }
  throw new ParseError(`${field} must be an object or a string, got ${typeName(v)}`, field);
}

/** EVE `tls`: SNI as the destination host name, JA3/JA3S/JA4 and certificate fingerprint as observables. */
export function mapTls(tls: Obj, b: Building): string | undefined {
  const sni = optStr(tls, 'sni', 'tls.sni');
  const version = optStr(tls, 'version', 'tls.version');
  if (sni !== undefined) hostObservable(b, sni, 'tls.sni');
  fingerprintHash(tls, 'ja3', 'tls.ja3', b);
  fingerprintHash(tls, 'ja3s', 'tls.ja3s', b);
  const ja4 = optStr(tls, 'ja4', 'tls.ja4');
  b.obs.add('other', ja4, 'tls.ja4');
  b.obs.add('hash', optStr(tls, 'fingerprint', 'tls.fingerprint'), 'tls.fingerprint');
  const rest = omit(tls, TLS_BLOBS);
  if (rest) b.unmapped.tls = rest;
  if (sni !== undefined) b.serverName = sni;
  return version;
}

// ---------------------------------------------------------------------------

function sshSide(ssh: Obj, side: 'client' | 'server', b: Building): string | undefined {
  const o = ssh[side];
  if (o === undefined || o === null) return undefined;
  if (!isObj(o)) throw new ParseError(`ssh.${side} must be an object, got ${typeName(o)}`, `ssh.${side}`);
  fingerprintHash(o, 'hassh', `ssh.${side}.hassh`, b);
  return optStr(o, 'software_version', `ssh.${side}.software_version`);
}

/** EVE `ssh`: client and server software; HASSH fingerprints as observables. */
export function mapSsh(ssh: Obj, b: Building): { client?: string; server?: string } {
  const client = sshSide(ssh, 'client', b);
  const server = sshSide(ssh, 'server', b);
  b.unmapped.ssh = ssh;
  const out: { client?: string; server?: string } = {};
  if (client !== undefined) out.client = client;
  if (server !== undefined) out.server = server;
  return out;
}

// ---------------------------------------------------------------------------

const FILE_MAPPED = new Set(['filename', 'size', 'md5', 'sha1', 'sha256']);

/**
 * Last segment of a path written with `/` or `\`.
 *
 * @example baseName('C:\\Temp\\a.exe') // 'a.exe'
 */
export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i >= 0 && i < path.length - 1 ? path.slice(i + 1) : path;
}

/** EVE `fileinfo`: the file seen in a transfer, its size and hashes. */
export function mapFileinfo(fi: Obj, b: Building): File {
  const filename = optStr(fi, 'filename', 'fileinfo.filename');
  const size = optInt(fi, 'size', 'fileinfo.size');
  const file: File = {};
  if (filename !== undefined) {
    file.path = filename;
    file.name = baseName(filename);
    b.obs.add('file', filename, 'file.path');
  }
  if (size !== undefined) {
    if (size < 0) throw new ParseError(`fileinfo.size must not be negative, got ${size}`, 'fileinfo.size');
    file.size = size;
  }
  let hashes: Record<string, string> | undefined;
  for (const alg of ['md5', 'sha1', 'sha256'] as const) {
    const h = optStr(fi, alg, `fileinfo.${alg}`);
    if (h === undefined) continue;
    hashes ??= {};
    hashes[alg] = h;
    b.obs.add('hash', h, `file.hashes.${alg}`);
  }
  if (hashes) file.hashes = hashes;
  b.file = file;
  const rest = omit(fi, FILE_MAPPED);
  if (rest) b.unmapped.fileinfo = rest;
  return file;
}

// ---------------------------------------------------------------------------

function addresses(o: Obj, key: string, field: string, b: Building): void {
  const v = o[key];
  if (typeof v === 'string') b.obs.add('email', stripAngles(v), field);
  else if (Array.isArray(v))
    for (let i = 0; i < v.length && i < 50; i++)
      if (typeof v[i] === 'string') b.obs.add('email', stripAngles(v[i] as string), field);
}

function stripAngles(s: string): string {
  const m = /<([^<>]+)>/.exec(s);
  return (m ? m[1]! : s).trim();
}

/** EVE `smtp` and `email`: sender and recipient addresses as observables. */
export function mapMail(smtp: Obj | undefined, email: Obj | undefined, b: Building): void {
  if (smtp) {
    addresses(smtp, 'mail_from', 'smtp.mail_from', b);
    addresses(smtp, 'rcpt_to', 'smtp.rcpt_to', b);
    b.unmapped.smtp = smtp;
  }
  if (email) {
    addresses(email, 'from', 'email.from', b);
    addresses(email, 'to', 'email.to', b);
    addresses(email, 'cc', 'email.cc', b);
    b.unmapped.email = email;
  }
}

import { type EventDraft, type Observable, ocsfClass } from '../../schema/event.ts';
import type { Obj } from '../fields.ts';
import type { WinRecord } from './record.ts';
import { baseName, ipOf, parseHashes, pidOf, portOf, splitAccount, text } from './values.ts';

type Process = NonNullable<EventDraft['process']>;
type Endpoint = NonNullable<EventDraft['src_endpoint']>;

/**
 * An event under construction: the mappers of each event id fill it from
 * the record's data fields through these helpers, which skip Windows'
 * placeholders (`-`, empty) and record observables as they go.
 */
export class WinDraft {
  readonly draft: EventDraft;
  private readonly observables: Observable[] = [];

  constructor(
    readonly rec: WinRecord,
    classUid: number,
  ) {
    this.draft = { ...ocsfClass(classUid), time: rec.time, severity_id: 1, raw: undefined };
  }

  get data(): Obj {
    return this.rec.data;
  }

  /** A data field as text, or undefined when absent or a placeholder. */
  str(name: string): string | undefined {
    return text(this.rec.data[name]);
  }

  setClass(classUid: number): void {
    Object.assign(this.draft, ocsfClass(classUid));
  }

  observe(type: Observable['type'], value: string | undefined, name: string): void {
    if (value && !this.observables.some((o) => o.type === type && o.value === value && o.name === name))
      this.observables.push({ type, value, name });
  }

  /** actor.user from a `DOMAIN\name` field or from name/domain/SID fields. */
  actorFrom(account?: string, nameField?: string, domainField?: string, sidField?: string): void {
    const acc = account ? splitAccount(this.rec.data[account]) : undefined;
    const name = acc?.name ?? (nameField ? this.str(nameField) : undefined);
    if (!name) return;
    const user: NonNullable<NonNullable<EventDraft['actor']>['user']> = { name };
    const domain = acc?.domain ?? (domainField ? this.str(domainField) : undefined);
    if (domain) user.domain = domain;
    const sid = sidField ? this.str(sidField) : undefined;
    // S-1-0-0 is the NULL SID: Windows writes it when there is no account.
    if (sid && sid !== 'S-1-0-0') user.uid = sid;
    this.draft.actor = { ...this.draft.actor, user };
    this.observe('user', name, 'actor.user.name');
  }

  /** A process from data fields (any of which may be missing). */
  processFrom(fields: {
    path?: string;
    cmd?: string;
    pid?: string;
    guid?: string;
    user?: string;
    integrity?: string;
    hashes?: string;
  }): Process | undefined {
    const p: Process = {};
    const path = fields.path ? this.str(fields.path) : undefined;
    if (path) {
      p.path = path;
      p.name = baseName(path);
    }
    const cmd = fields.cmd ? this.str(fields.cmd) : undefined;
    if (cmd) p.cmd_line = cmd;
    const pid = fields.pid ? pidOf(this.rec.data[fields.pid]) : undefined;
    // Security events write 0x0 when no process applies.
    if (pid !== undefined && pid !== 0) p.pid = pid;
    const guid = fields.guid ? this.str(fields.guid) : undefined;
    if (guid) p.uid = guid;
    const user = fields.user ? this.str(fields.user) : undefined;
    if (user) p.user = user;
    const integrity = fields.integrity ? this.str(fields.integrity) : undefined;
    if (integrity) p.integrity = integrity;
    const hashes = fields.hashes ? parseHashes(this.rec.data[fields.hashes]) : undefined;
    if (hashes) p.hashes = hashes;
    return Object.keys(p).length ? p : undefined;
  }

  setProcess(p: Process | undefined, name = 'process'): void {
    if (!p) return;
    this.draft.process = p;
    this.observe('process', p.path ?? p.name, `${name}.path`);
    for (const h of Object.values(p.hashes ?? {})) this.observe('hash', h, `${name}.hashes`);
  }

  endpoint(which: 'src_endpoint' | 'dst_endpoint', f: { ip?: string; port?: string; host?: string }): void {
    const e: Endpoint = {};
    const ip = f.ip ? ipOf(this.rec.data[f.ip]) : undefined;
    if (ip) e.ip = ip;
    const port = f.port ? portOf(this.rec.data[f.port]) : undefined;
    // Security events write port 0 when there is none.
    if (port !== undefined && port !== 0) e.port = port;
    const host = f.host ? this.str(f.host) : undefined;
    if (host) e.hostname = host;
    if (!Object.keys(e).length) return;
    this.draft[which] = e;
    this.observe('ip', e.ip, `${which}.ip`);
    this.observe('host', e.hostname, `${which}.hostname`);
  }

  file(pathField: string, hashesField?: string): void {
    const path = this.str(pathField);
    if (!path) return;
    const f: NonNullable<EventDraft['file']> = { path, name: baseName(path) };
    const hashes = hashesField ? parseHashes(this.rec.data[hashesField]) : undefined;
    if (hashes) f.hashes = hashes;
    this.draft.file = f;
    this.observe('file', path, 'file.path');
    for (const h of Object.values(hashes ?? {})) this.observe('hash', h, 'file.hashes');
  }

  finish(): EventDraft {
    this.draft.observables = this.observables;
    return this.draft;
  }
}

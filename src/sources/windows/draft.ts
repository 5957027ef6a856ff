import { type EventDraft, type Observable, ocsfClass } from '../../schema/event.ts';
import type { Obj } from '../fields.ts';
import type { WinRecord } from './record.ts';
import { baseName, ipOf, parseHashes, pidOf, portOf, text } from './values.ts';

type Process = NonNullable<EventDraft['process']>;
type User = NonNullable<NonNullable<EventDraft['actor']>['user']>;
type Endpoint = NonNullable<EventDraft['src_endpoint']>;
type ClassQuartet = ReturnType<typeof ocsfClass>;

/** The data fields a process is read from (any may be missing); mappers keep these as constants. */
export interface ProcessFields {
  path?: string;
  cmd?: string;
  pid?: string;
  guid?: string;
  user?: string;
  integrity?: string;
  hashes?: string;
}

/** The data fields an endpoint is read from. */
export interface EndpointFields {
  ip?: string;
  port?: string;
  host?: string;
}

/** ocsfClass per class id, computed once: a Windows source meets a dozen classes. */
const CLASSES = new Map<number, ClassQuartet>();

function classOf(classUid: number): ClassQuartet {
  let c = CLASSES.get(classUid);
  if (!c) {
    c = ocsfClass(classUid);
    CLASSES.set(classUid, c);
  }
  return c;
}

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
    const c = classOf(classUid);
    // One literal with every field a Windows event may get, in the order they are filled: every
    // draft has one shape, made in one allocation, so the code reading events downstream (ids,
    // limits, Sigma) meets one shape, and no field added later grows the object. A field left
    // undefined is absent from the stored JSON, as Zeek's drafts already leave theirs.
    this.draft = {
      class_uid: c.class_uid,
      class_name: c.class_name,
      category_uid: c.category_uid,
      category_name: c.category_name,
      time: rec.time,
      severity_id: 1,
      raw: undefined,
      activity_name: undefined,
      source_event_id: undefined,
      metadata: undefined,
      device: undefined,
      actor: undefined,
      process: undefined,
      file: undefined,
      src_endpoint: undefined,
      dst_endpoint: undefined,
      network: undefined,
      dns: undefined,
      status: undefined,
      status_detail: undefined,
      observables: undefined,
      message: undefined,
      unmapped: undefined,
      // The fields finalizeEvent adds, last as it adds them: it then fills slots the object has.
      id: undefined,
      source: undefined,
      ingested_at: undefined,
    } as EventDraft;
  }

  get data(): Obj {
    return this.rec.data;
  }

  /** A data field as text, or undefined when absent or a placeholder. */
  str(name: string): string | undefined {
    return text(this.rec.data[name]);
  }

  setClass(classUid: number): void {
    const c = classOf(classUid);
    this.draft.class_uid = c.class_uid;
    this.draft.class_name = c.class_name;
    this.draft.category_uid = c.category_uid;
    this.draft.category_name = c.category_name;
  }

  observe(type: Observable['type'], value: string | undefined, name: string): void {
    if (!value) return;
    // A loop, not `some` with a closure allocated per call: events have a handful of observables.
    const list = this.observables;
    for (let i = 0; i < list.length; i++) {
      const o = list[i]!;
      if (o.type === type && o.value === value && o.name === name) return;
    }
    list.push({ type, value, name });
  }

  /** actor.user from a `DOMAIN\name` field or from name/domain/SID fields. */
  actorFrom(account?: string, nameField?: string, domainField?: string, sidField?: string): void {
    // splitAccount's rule, read in place (no object per call): `DOMAIN\name`, or a bare name.
    let name: string | undefined;
    let domain: string | undefined;
    const acc = account ? text(this.rec.data[account]) : undefined;
    if (acc) {
      const i = acc.indexOf('\\');
      if (i < 0) name = acc;
      else if (i + 1 < acc.length) {
        name = acc.slice(i + 1);
        domain = acc.slice(0, i);
      }
    }
    name ??= nameField ? this.str(nameField) : undefined;
    if (!name) return;
    const user: NonNullable<NonNullable<EventDraft['actor']>['user']> = { name };
    domain ??= domainField ? this.str(domainField) : undefined;
    if (domain) user.domain = domain;
    const sid = sidField ? this.str(sidField) : undefined;
    // S-1-0-0 is the NULL SID: Windows writes it when there is no account.
    if (sid && sid !== 'S-1-0-0') user.uid = sid;
    this.setActor('user', user);
    this.observe('user', name, 'actor.user.name');
  }

  /**
   * Set actor.user or actor.process. The actor is this draft's own object (made here), so it is
   * completed in place: the fields, and their order, are those of `{ ...actor, [key]: value }`.
   */
  setActor<K extends 'user' | 'process'>(
    key: K,
    value: NonNullable<NonNullable<EventDraft['actor']>[K]>,
  ): void {
    const actor = this.draft.actor;
    if (actor) actor[key] = value;
    else this.draft.actor = key === 'user' ? { user: value as User } : { process: value as Process };
  }

  /** A process from data fields (any of which may be missing). */
  processFrom(fields: ProcessFields): Process | undefined {
    const path = fields.path ? this.str(fields.path) : undefined;
    const cmd = fields.cmd ? this.str(fields.cmd) : undefined;
    let pid = fields.pid ? pidOf(this.rec.data[fields.pid]) : undefined;
    // Security events write 0x0 when no process applies.
    if (pid === 0) pid = undefined;
    const guid = fields.guid ? this.str(fields.guid) : undefined;
    const user = fields.user ? this.str(fields.user) : undefined;
    const integrity = fields.integrity ? this.str(fields.integrity) : undefined;
    const hashes = fields.hashes ? parseHashes(this.rec.data[fields.hashes]) : undefined;
    if (
      path === undefined &&
      cmd === undefined &&
      pid === undefined &&
      guid === undefined &&
      user === undefined &&
      integrity === undefined &&
      hashes === undefined
    )
      return undefined;
    // One literal, every field in the order the fields were once added (a field not found is
    // undefined, absent from the stored JSON): one allocation, one shape for every process.
    return {
      path,
      name: path === undefined ? undefined : baseName(path),
      cmd_line: cmd,
      pid,
      uid: guid,
      user,
      integrity,
      hashes,
      parent: undefined,
    };
  }

  setProcess(p: Process | undefined, name = 'process'): void {
    if (!p) return;
    this.draft.process = p;
    this.observe('process', p.path ?? p.name, name === 'process' ? 'process.path' : `${name}.path`);
    const hashes = p.hashes;
    if (hashes) {
      const field = name === 'process' ? 'process.hashes' : `${name}.hashes`;
      for (const algo in hashes) this.observe('hash', hashes[algo], field);
    }
  }

  endpoint(which: 'src_endpoint' | 'dst_endpoint', f: EndpointFields): void {
    const e: Endpoint = {};
    let any = false;
    const ip = f.ip ? ipOf(this.rec.data[f.ip]) : undefined;
    if (ip) {
      e.ip = ip;
      any = true;
    }
    const port = f.port ? portOf(this.rec.data[f.port]) : undefined;
    // Security events write port 0 when there is none.
    if (port !== undefined && port !== 0) {
      e.port = port;
      any = true;
    }
    const host = f.host ? this.str(f.host) : undefined;
    if (host) {
      e.hostname = host;
      any = true;
    }
    if (!any) return;
    this.draft[which] = e;
    this.observe('ip', e.ip, which === 'src_endpoint' ? 'src_endpoint.ip' : 'dst_endpoint.ip');
    this.observe(
      'host',
      e.hostname,
      which === 'src_endpoint' ? 'src_endpoint.hostname' : 'dst_endpoint.hostname',
    );
  }

  file(pathField: string, hashesField?: string): void {
    const path = this.str(pathField);
    if (!path) return;
    const f: NonNullable<EventDraft['file']> = { path, name: baseName(path) };
    const hashes = hashesField ? parseHashes(this.rec.data[hashesField]) : undefined;
    if (hashes) f.hashes = hashes;
    this.draft.file = f;
    this.observe('file', path, 'file.path');
    if (hashes) for (const algo in hashes) this.observe('hash', hashes[algo], 'file.hashes');
  }

  finish(): EventDraft {
    this.draft.observables = this.observables;
    return this.draft;
  }
}

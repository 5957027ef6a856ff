import type { EventDraft } from '../../schema/event.ts';
import { type Obj, optInt, optNum, optObj, optPort, optStr, ParseError, typeName } from '../fields.ts';

/**
 * Reads the auxiliary fields of an alert leniently. Wazuh fills `data.*` from
 * decoder regexes, so a port may hold text and a field may change type
 * between decoders; losing a security alert over such a field would be worse
 * than keeping it without that field. Each field that cannot be read is
 * recorded (field and reason, see {@link warnings}) and skipped. Fields the
 * alert cannot do without (time, rule id and level) are read strictly by the
 * caller, so a record missing them still becomes a dead letter.
 */
export class Reader {
  readonly warnings: Array<{ field: string; message: string }> = [];

  /** Read one field with a strict accessor; a ParseError becomes a warning. No closure per call: this runs for every field of every alert. */
  private read<T>(
    accessor: (o: Obj, key: string, field: string) => T | undefined,
    o: Obj | undefined,
    key: string,
    field: string,
  ): T | undefined {
    if (!o || o[key] === undefined || o[key] === null) return undefined;
    try {
      return accessor(o, key, field);
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      this.warnings.push({ field: err.field ?? field, message: err.message });
      return undefined;
    }
  }

  str(o: Obj | undefined, key: string, field: string): string | undefined {
    return this.read(optStr, o, key, field);
  }

  num(o: Obj | undefined, key: string, field: string): number | undefined {
    return this.read(optNum, o, key, field);
  }

  int(o: Obj | undefined, key: string, field: string): number | undefined {
    return this.read(optInt, o, key, field);
  }

  port(o: Obj | undefined, key: string, field: string): number | undefined {
    return this.read(optPort, o, key, field);
  }

  obj(o: Obj | undefined, key: string, field: string): Obj | undefined {
    return this.read(optObj, o, key, field);
  }

  /** An array of strings (a lone string counts as a one-element array; non-strings are skipped). */
  strs(o: Obj | undefined, key: string, field: string): string[] {
    const v = o?.[key];
    if (v === undefined || v === null) return [];
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v)) {
      this.warnings.push({ field, message: `${field} must be an array, got ${typeName(v)}` });
      return [];
    }
    return v.filter((x): x is string => typeof x === 'string' && x !== '');
  }
}

export type User = NonNullable<NonNullable<EventDraft['actor']>['user']>;
export type Endpoint = NonNullable<EventDraft['src_endpoint']>;
export type Process = NonNullable<EventDraft['process']>;

/** Pieces of an event that one part of an alert (Windows, FIM, audit, AWS) contributes. */
export interface Pieces {
  user?: User;
  process?: Process;
  file?: EventDraft['file'];
  src?: Endpoint;
  dst?: Endpoint;
  network?: EventDraft['network'];
  cloud?: EventDraft['cloud'];
  http?: EventDraft['http'];
  status?: 'success' | 'failure';
  activity?: string;
  eventCode?: string;
  logName?: string;
  message?: string;
  instance?: string;
  /** Extra values for `unmapped`, keyed by name. */
  unmapped?: Record<string, unknown>;
}

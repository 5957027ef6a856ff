import type { EventDraft } from '../../schema/event.ts';
import { isObj, type Obj, optObj, ParseError, typeName } from '../fields.ts';
import type { Observables } from './draft.ts';

/** What the parts of a finding collect while it is normalised. */
export interface Built {
  obs: Observables;
  resources: Set<string>;
  unmapped: Record<string, unknown>;
}

export type Draft = Omit<EventDraft, 'raw'> & { raw?: unknown };
export type User = NonNullable<NonNullable<EventDraft['actor']>['user']>;
export type Endpoint = NonNullable<EventDraft['src_endpoint']>;

/** An optional array member, naming the field when it is something else. */
export function optArr(o: Obj | undefined, key: string, field: string): unknown[] | undefined {
  const v = o?.[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new ParseError(`${field} must be an array, got ${typeName(v)}`, field);
  return v;
}

/** `optObj` that tolerates a missing parent. */
export function sub(o: Obj | undefined, key: string, field: string): Obj | undefined {
  return o ? optObj(o, key, field) : undefined;
}

/** Objects of an optional array (non-objects are skipped: they carry nothing we map). */
export function objects(o: Obj | undefined, key: string, field: string): Obj[] {
  return (optArr(o, key, field) ?? []).filter(isObj);
}

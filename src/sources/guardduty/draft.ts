import type { Observable } from '../../schema/event.ts';
import { isIpAddress } from '../cloudtrail/parse.ts';

/**
 * Small helpers for building event drafts from finding formats. They live
 * with GuardDuty, the first source that needed them; Security Hub and Wazuh
 * (whose AWS module carries GuardDuty and Security Hub findings) share them.
 */

/** Values that mean "nothing here" in the formats we read (`-` in Windows logs, `N/A` in findings). */
const PLACEHOLDERS = new Set(['', '-', 'n/a', 'N/A', 'null']);

/** Whether a string carries a value rather than a placeholder. */
export function present(v: string | undefined): v is string {
  return v !== undefined && !PLACEHOLDERS.has(v.trim());
}

/**
 * Drop `undefined` members (and empty nested objects) so drafts, and the
 * expected fixtures built from them, hold only what the record had.
 *
 * @example prune({ a: 1, b: undefined, c: {} }) // { a: 1 }
 */
export function prune<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (isPlainObject(v)) {
      const inner = prune(v);
      if (Object.keys(inner).length > 0) out[k] = inner;
      continue;
    }
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out as T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** `prune` that returns undefined when nothing is left, for optional draft members. */
export function pruneOrUndefined<T extends object>(o: T): T | undefined {
  const p = prune(o);
  return Object.keys(p).length > 0 ? p : undefined;
}

/**
 * Collects observables without duplicates (same type and value) and without
 * placeholders, keeping the field each came from.
 *
 * @example
 * const obs = new Observables();
 * obs.add('ip', '203.0.113.9', 'src_endpoint.ip');
 * obs.list(); // [{ type: 'ip', value: '203.0.113.9', name: 'src_endpoint.ip' }]
 */
export class Observables {
  private readonly seen = new Set<string>();
  private readonly items: Observable[] = [];

  add(type: Observable['type'], value: string | undefined, name: string): void {
    if (!present(value)) return;
    if (type === 'ip' && !isIpAddress(value)) return;
    const key = `${type}\u0000${value.toLowerCase()}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push({ type, value, name });
  }

  list(): Observable[] {
    return this.items;
  }
}

/** An IP address, or undefined for anything else (service names, placeholders). */
export function ipOrUndefined(v: string | undefined): string | undefined {
  return present(v) && isIpAddress(v.trim()) ? v.trim() : undefined;
}

/** The last path segment of a file path, Windows or POSIX. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

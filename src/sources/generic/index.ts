import { z } from 'zod';
import { type EventDraft, type Observable, ocsfClass } from '../../schema/event.ts';
import { asObj, getPath, ParseError, toIsoTime, typeName } from '../fields.ts';
import type { SourceFactory } from '../types.ts';

/** Target fields a mapping may fill, with the type each expects. */
export const GENERIC_TARGETS = {
  'actor.user.name': 'string',
  'actor.user.uid': 'string',
  'actor.user.domain': 'string',
  'src_endpoint.ip': 'string',
  'src_endpoint.port': 'port',
  'src_endpoint.hostname': 'string',
  'dst_endpoint.ip': 'string',
  'dst_endpoint.port': 'port',
  'dst_endpoint.hostname': 'string',
  'device.hostname': 'string',
  'process.name': 'string',
  'process.pid': 'number',
  'process.cmd_line': 'string',
  'process.path': 'string',
  'file.path': 'string',
  'file.name': 'string',
  'network.protocol': 'string',
  'network.bytes_in': 'number',
  'network.bytes_out': 'number',
  'http.url': 'string',
  'http.method': 'string',
  'http.user_agent': 'string',
  'dns.query': 'string',
  'cloud.account_uid': 'string',
  'cloud.region': 'string',
  'cloud.service': 'string',
  'cloud.operation': 'string',
  activity_name: 'string',
  message: 'string',
} as const;

type Target = keyof typeof GENERIC_TARGETS;

const OBSERVABLE_OF: Partial<Record<Target, Observable['type']>> = {
  'actor.user.name': 'user',
  'src_endpoint.ip': 'ip',
  'dst_endpoint.ip': 'ip',
  'src_endpoint.hostname': 'host',
  'dst_endpoint.hostname': 'host',
  'device.hostname': 'host',
  'file.path': 'file',
  'http.url': 'url',
  'dns.query': 'domain',
};

export const GenericConfig = z
  .strictObject({
    time_fields: z
      .array(z.string())
      .min(1)
      .default(['@timestamp', 'timestamp', 'time', 'eventTime', 'ts', 'date'])
      .describe('Fields tried in order for the event time (dotted paths)'),
    id_field: z.string().optional().describe("Field holding the source's own event id"),
    severity_field: z.string().optional().describe('Field holding a severity (name or 0–10 number)'),
    class_uid: z.number().int().default(0).describe('OCSF class of the events'),
    mapping: z
      .partialRecord(z.enum(Object.keys(GENERIC_TARGETS) as [Target, ...Target[]]), z.string())
      .default({})
      .describe('Target field (e.g. src_endpoint.ip) → source field path (e.g. client.address)'),
  })
  .describe('Generic JSON: any JSON records with a field mapping');
export type GenericConfig = z.infer<typeof GenericConfig>;

/** Default mapping used when the config gives none: common field names. */
const DEFAULT_MAPPING: Partial<Record<Target, string[]>> = {
  'actor.user.name': ['user', 'username', 'user.name', 'userName'],
  'src_endpoint.ip': ['src_ip', 'source_ip', 'srcip', 'source.ip', 'client_ip'],
  'src_endpoint.port': ['src_port', 'source_port', 'srcport', 'source.port'],
  'dst_endpoint.ip': ['dest_ip', 'dst_ip', 'destination_ip', 'dstip', 'destination.ip'],
  'dst_endpoint.port': ['dest_port', 'dst_port', 'destination_port', 'dstport', 'destination.port'],
  'device.hostname': ['host', 'hostname', 'host.name'],
  'process.name': ['process', 'process.name'],
  'process.cmd_line': ['command', 'command_line', 'cmdline'],
  'file.path': ['file_path', 'file.path'],
  message: ['message', 'msg', 'description'],
};

function coerce(value: unknown, kind: string, target: string, from: string): string | number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (kind === 'string') {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new ParseError(`${from} (mapped to ${target}) must be a string, got ${typeName(value)}`, from);
  }
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : Number.NaN;
  if (!Number.isFinite(n))
    throw new ParseError(`${from} (mapped to ${target}) must be a number, got ${typeName(value)}`, from);
  if (kind === 'port' && (n < 0 || n > 65535 || !Number.isInteger(n))) {
    throw new ParseError(`${from} (mapped to ${target}) must be a port 0–65535`, from);
  }
  return n;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const k = parts[i]!;
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

const SEVERITY_NAMES: Record<string, 0 | 1 | 2 | 3 | 4 | 5> = {
  unknown: 0,
  info: 1,
  informational: 1,
  low: 2,
  medium: 3,
  moderate: 3,
  high: 4,
  critical: 5,
};

/** Build a normaliser from a validated generic config. */
export function genericNormaliser(config: GenericConfig): (record: unknown) => EventDraft[] {
  const explicit = Object.entries(config.mapping) as Array<[Target, string]>;
  return (record) => {
    const r = asObj(record);
    let timeValue: unknown;
    let timeField = config.time_fields[0]!;
    for (const f of config.time_fields) {
      const v = getPath(r, f);
      if (v !== undefined && v !== null && v !== '') {
        timeValue = v;
        timeField = f;
        break;
      }
    }
    if (timeValue === undefined) {
      throw new ParseError(
        `No time field found (tried ${config.time_fields.join(', ')})`,
        config.time_fields[0],
      );
    }
    const draft: Record<string, unknown> = {
      ...ocsfClass(config.class_uid),
      time: toIsoTime(timeValue, timeField),
      severity_id: 1,
      raw: record,
    };
    const observables: Observable[] = [];
    const apply = (target: Target, from: string): boolean => {
      const v = coerce(getPath(r, from), GENERIC_TARGETS[target], target, from);
      if (v === undefined) return false;
      setPath(draft, target, v);
      const ot = OBSERVABLE_OF[target];
      if (ot) observables.push({ type: ot, value: String(v), name: target });
      return true;
    };
    if (explicit.length > 0) for (const [target, from] of explicit) apply(target, from);
    else {
      for (const [target, candidates] of Object.entries(DEFAULT_MAPPING) as Array<[Target, string[]]>) {
        for (const c of candidates) {
          // Defaults are best effort: a field of an unexpected type is skipped, not fatal.
          try {
            if (apply(target, c)) break;
          } catch {}
        }
      }
    }
    if (config.id_field) {
      const id = getPath(r, config.id_field);
      if (id !== undefined && id !== null) draft.source_event_id = String(id);
    }
    if (config.severity_field) {
      const s = getPath(r, config.severity_field);
      if (typeof s === 'string' && s.toLowerCase() in SEVERITY_NAMES)
        draft.severity_id = SEVERITY_NAMES[s.toLowerCase()];
      else if (typeof s === 'number' && Number.isFinite(s))
        draft.severity_id = Math.max(0, Math.min(5, Math.round(s / 2))) as 0;
    }
    draft.observables = observables;
    draft.metadata = { product: 'generic' };
    return [draft as unknown as EventDraft];
  };
}

/** Generic JSON records with a configurable field mapping. */
export const generic: SourceFactory<GenericConfig> = {
  type: 'generic',
  description: 'Any JSON records, mapped by configuration',
  configSchema: GenericConfig,
  create: (config) => ({ type: 'generic', framing: 'json', normalise: genericNormaliser(config) }),
  // Generic accepts anything with a time field, weakly, so specific sources win.
  sniff: (v) =>
    typeof v === 'object' && v !== null && ('timestamp' in v || '@timestamp' in v || 'time' in v) ? 0.1 : 0,
};

import { fingerprint } from '../../ids.ts';
import { ocsfFromSeverity, type SeverityName } from '../../schema/common.ts';
import { type EventDraft, type Observable, ocsfClass } from '../../schema/event.ts';
import { isObj, type Obj, ParseError, strOf, toIsoTime, typeName } from '../fields.ts';

/** The webhook payload version this source reads (Alertmanager has sent version 4 since 0.8). */
export const WEBHOOK_VERSION = '4';

/** The product name events carry. */
const PRODUCT = 'Prometheus Alertmanager';

/** Group fields copied into each alert's record, so the record stands alone (and is the event's raw). */
const GROUP_FIELDS = ['receiver', 'externalURL', 'groupKey'] as const;

/**
 * Expand an Alertmanager webhook notification into one record per alert:
 * the alert with the notification's `receiver`, `externalURL` and
 * `groupKey`. A bare alert (an object with `labels`) is its own record.
 * Refuses, naming the field, a notification whose `alerts` is not an array
 * or whose `version` is not 4.
 *
 * @example unwrapAlertmanager({ version: '4', receiver: 'aisoc', alerts: [a, b] }) // [{...a, receiver: 'aisoc'}, {...b, receiver: 'aisoc'}]
 */
export function unwrapAlertmanager(value: unknown): unknown[] {
  if (!isObj(value) || !('alerts' in value)) return [value];
  const version = value.version;
  if (version !== undefined && String(version) !== WEBHOOK_VERSION)
    throw new ParseError(
      `version must be "${WEBHOOK_VERSION}" (Alertmanager's webhook format), got ${JSON.stringify(version).slice(0, 40)}`,
      'version',
    );
  const alerts = value.alerts;
  if (!Array.isArray(alerts))
    throw new ParseError(`alerts must be an array, got ${typeName(alerts)}`, 'alerts');
  const context: Obj = {};
  for (const k of GROUP_FIELDS) {
    const v = strOf(value[k], k);
    if (v !== undefined) context[k] = v;
  }
  // An alert that is not an object stays as it is, to become a dead letter naming it.
  return alerts.map((a) => (isObj(a) ? { ...a, ...context } : a));
}

/** Likelihood that a value is an Alertmanager notification or one of its alerts. */
export function sniffAlertmanager(value: unknown): number {
  if (!isObj(value)) return 0;
  if (Array.isArray(value.alerts) && typeof value.receiver === 'string')
    return value.version === WEBHOOK_VERSION || 'groupKey' in value ? 0.95 : 0.7;
  if (isObj(value.labels) && typeof value.labels.alertname === 'string' && 'startsAt' in value)
    return 'fingerprint' in value || 'generatorURL' in value ? 0.8 : 0.5;
  return 0;
}

/**
 * Our severity of a Prometheus `severity` label value: `critical` (and
 * `page`) critical; `error`, `high` high; `warning`, `warn`, `medium`
 * (and no label, or one we do not know) medium; `info`, `low`, `notice`
 * low; `none`, `debug` informational.
 */
export function severityOfLabel(value: string | undefined): SeverityName {
  switch (value?.trim().toLowerCase()) {
    case 'critical':
    case 'page':
    case 'emergency':
    case 'alert':
      return 'critical';
    case 'error':
    case 'high':
    case 'major':
      return 'high';
    case 'info':
    case 'informational':
    case 'low':
    case 'notice':
    case 'minor':
      return 'low';
    case 'none':
    case 'debug':
      return 'informational';
    default:
      return 'medium';
  }
}

/** A label or annotation map: an object of strings (numbers and booleans are read as text). */
function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new ParseError(`${field} must be an object of strings, got ${typeName(v)}`, field);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    const s = strOf(x, `${field}.${k}`);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

/** The host and address of a Prometheus `instance` label (`host:port`, `[v6]:port`, or a bare host). */
function instanceHost(instance: string | undefined): { hostname?: string; ip?: string } {
  if (!instance) return {};
  let host = instance.trim();
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (v6) return { ip: v6[1]! };
  const colons = host.split(':').length - 1;
  if (colons === 1) host = host.slice(0, host.indexOf(':'));
  // Two colons or more without brackets: a bare IPv6 address.
  if (colons > 1) return { ip: host };
  if (!host) return {};
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) ? { ip: host } : { hostname: host.toLowerCase() };
}

/**
 * One Alertmanager alert (as {@link unwrapAlertmanager} gives it) to one
 * event. A firing alert carries its verdict as the event's `finding`
 * (severity from the `severity` label), which the upstream detector raises
 * as an alert; a resolved one is an event with no finding. Labels and
 * annotations are kept, as data, in `unmapped`; the annotations' text is
 * never read as anything but text.
 *
 * @param severityLabel the label that holds the severity (`sources.alertmanager.severity_label`)
 */
export function normaliseAlertmanager(record: unknown, severityLabel = 'severity'): EventDraft[] {
  if (!isObj(record))
    throw new ParseError(`An alert must be a JSON object, got ${typeName(record)}`, 'alerts[]');
  const labels = stringMap(record.labels, 'labels');
  const alertname = labels.alertname;
  if (alertname === undefined) throw new ParseError('labels.alertname is required', 'labels.alertname');
  const annotations = stringMap(record.annotations, 'annotations');
  const status = strOf(record.status, 'status');
  if (status !== 'firing' && status !== 'resolved')
    throw new ParseError(
      `status must be "firing" or "resolved", got ${status === undefined ? 'nothing' : JSON.stringify(status.slice(0, 40))}`,
      'status',
    );
  const startsAt = toIsoTime(record.startsAt, 'startsAt');
  // Alertmanager writes Go's zero time (0001-01-01T00:00:00Z) for an end not yet known.
  const endsRaw = strOf(record.endsAt, 'endsAt');
  const endsAt =
    endsRaw === undefined || endsRaw.startsWith('0001-') ? undefined : toIsoTime(endsRaw, 'endsAt');
  const fp = strOf(record.fingerprint, 'fingerprint');
  const generatorURL = strOf(record.generatorURL, 'generatorURL');
  const receiver = strOf(record.receiver, 'receiver');
  const externalURL = strOf(record.externalURL, 'externalURL');
  const groupKey = strOf(record.groupKey, 'groupKey');

  const severity = severityOfLabel(labels[severityLabel]);
  const summary = annotations.summary ?? annotations.message ?? annotations.description;
  const host = instanceHost(labels.instance);
  const observables: Observable[] = [];
  if (host.hostname) observables.push({ type: 'host', value: host.hostname, name: 'device.hostname' });
  if (host.ip) observables.push({ type: 'ip', value: host.ip, name: 'device.ip' });
  const unmapped: Record<string, unknown> = { labels, annotations };
  if (endsAt) unmapped.ends_at = endsAt;
  if (generatorURL) unmapped.generator_url = generatorURL;
  if (receiver) unmapped.receiver = receiver;
  if (externalURL) unmapped.external_url = externalURL;
  if (groupKey) unmapped.group_key = groupKey;

  const event: EventDraft = {
    // Alertmanager sends a firing alert again every repeat_interval: the same fingerprint, start and
    // status make the same event id, so a repeat is a duplicate; its resolution is a new event.
    source_event_id: fp ?? fingerprint(...Object.entries(labels).sort().flat()),
    time: status === 'resolved' ? (endsAt ?? startsAt) : startsAt,
    ...ocsfClass(2004),
    activity_name: status,
    severity_id: ocsfFromSeverity(status === 'firing' ? severity : 'informational'),
    status: 'unknown',
    status_detail: status,
    message: summary ? `${alertname}: ${summary}` : alertname,
    ...(host.hostname || host.ip ? { device: host } : {}),
    ...(status === 'firing'
      ? {
          finding: {
            uid: alertname,
            // The rule's name, which the operator wrote; the annotations' text (which may quote
            // scraped label values) stays in the message, as the event's data.
            title: alertname,
            product: PRODUCT,
            severity,
            tags: ['platform'],
            techniques: [],
          },
        }
      : {}),
    observables,
    metadata: { product: PRODUCT, vendor: 'Prometheus', event_code: alertname },
    unmapped,
    raw: record,
  };
  return [event];
}

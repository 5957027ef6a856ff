import { AisocError, describeError } from '../errors.ts';
import type { Case, CaseObservable } from '../schema/case.ts';
import type { SeverityName } from '../schema/common.ts';
import type { Store } from '../store/index.ts';

export interface TheHiveSettings {
  /** Base URL of TheHive 5, e.g. https://thehive.example:9000 */
  url: string;
  apiKey: string;
  /** Organisation to act in (TheHive's `X-Organisation` header), when the key has several. */
  organisation?: string;
  timeoutMs?: number;
}

/** TheHive severity: 1 low, 2 medium, 3 high, 4 critical. */
export function theHiveSeverity(s: SeverityName): number {
  return { informational: 1, low: 1, medium: 2, high: 3, critical: 4 }[s];
}

const DATA_TYPES: Record<string, string> = {
  ip: 'ip',
  domain: 'domain',
  url: 'url',
  hash: 'hash',
  email: 'mail',
  file: 'filename',
  host: 'hostname',
  user_agent: 'user-agent',
};

/** TheHive observable data type for one of ours (`other` when TheHive has no closer one). */
export function theHiveDataType(type: string): string {
  return DATA_TYPES[type] ?? 'other';
}

function observableBody(o: CaseObservable) {
  return {
    dataType: theHiveDataType(o.type),
    data: o.value,
    message: `AI-SOC ${o.type}${o.event_id ? ` from event ${o.event_id}` : ''}`,
    ioc: o.ioc,
    tlp: 2,
    tags: [`aisoc:${o.type}`],
  };
}

async function call(
  s: TheHiveSettings,
  method: string,
  path: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${s.apiKey}`,
    'content-type': 'application/json',
  };
  if (s.organisation) headers['x-organisation'] = s.organisation;
  let res: Response;
  try {
    res = await fetch(`${s.url.replace(/\/+$/, '')}${path}`, {
      method,
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(s.timeoutMs ?? 15_000),
      // Never follow: a 307/308 would re-send the case and the API key wherever Location points.
      redirect: 'manual',
    });
  } catch (err) {
    throw new AisocError('AISOC_ERR_INTERNAL', `TheHive at ${s.url} did not answer: ${describeError(err)}`, {
      field: 'thehive.url',
    });
  }
  const text = await res.text();
  if (res.status >= 300 && res.status < 400) {
    throw new AisocError(
      'AISOC_ERR_INTERNAL',
      `TheHive answered ${method} ${path} with a redirect (${res.status}); redirects are not followed, so the case and the key go nowhere else: set integrations.thehive.url to the address TheHive serves`,
      { field: 'thehive', details: { status: res.status } },
    );
  }
  if (!res.ok) {
    let message = text.slice(0, 300);
    try {
      message = String((JSON.parse(text) as { message?: string }).message ?? message);
    } catch {}
    throw new AisocError(
      res.status === 401 || res.status === 403 ? 'AISOC_ERR_UNAUTHORIZED' : 'AISOC_ERR_INTERNAL',
      `TheHive refused ${method} ${path} with ${res.status}: ${message}`,
      {
        field: 'thehive',
        details: { status: res.status },
      },
    );
  }
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

export interface ExportResult {
  kind: 'case' | 'alert';
  thehive_id: string;
  observables: number;
  already: boolean;
}

/**
 * Export a case to TheHive 5 through its REST API, either as a case (with
 * its tasks, then each observable) or as an alert (observables inline).
 * The link is remembered, so a second export returns the first one's id
 * instead of creating a duplicate.
 */
export async function exportToTheHive(
  store: Store,
  c: Case,
  settings: TheHiveSettings,
  kind: 'case' | 'alert',
  actor: string,
): Promise<ExportResult> {
  const key = `thehive:${kind}:${c.id}`;
  const known = await store.kv.get<{ id: string; observables: number }>(key);
  if (known) return { kind, thehive_id: known.id, observables: known.observables, already: true };
  const tags = ['aisoc', `aisoc:case:${c.id}`, ...(c.incident_id ? [`aisoc:incident:${c.incident_id}`] : [])];
  const description = [c.description ?? '', '', `Exported from AI-SOC case ${c.id}.`].join('\n').trim();
  let id: string;
  let observables = 0;
  if (kind === 'alert') {
    const created = await call(settings, 'POST', '/api/v1/alert', {
      type: 'aisoc',
      source: 'AI-SOC',
      sourceRef: c.id,
      title: c.title,
      description,
      severity: theHiveSeverity(c.severity),
      date: Date.parse(c.created_at),
      tags,
      tlp: 2,
      pap: 2,
      observables: c.observables.map(observableBody),
    });
    id = String(created._id ?? created.id ?? '');
    observables = c.observables.length;
  } else {
    const created = await call(settings, 'POST', '/api/v1/case', {
      title: c.title,
      description,
      severity: theHiveSeverity(c.severity),
      startDate: Date.parse(c.created_at),
      tags,
      tlp: 2,
      pap: 2,
      flag: c.severity === 'critical',
      tasks: c.tasks.map((t, i) => ({
        title: t.title,
        order: i,
        status: t.status === 'done' ? 'Completed' : 'Waiting',
        ...(t.assignee ? { assignee: t.assignee } : {}),
      })),
    });
    id = String(created._id ?? created.id ?? '');
    for (const o of c.observables) {
      await call(settings, 'POST', `/api/v1/case/${encodeURIComponent(id)}/observable`, observableBody(o));
      observables++;
    }
  }
  if (!id) throw new AisocError('AISOC_ERR_INTERNAL', 'TheHive answered without an id', { field: 'thehive' });
  await store.kv.set(key, { id, observables });
  await store.audit.append({
    actor,
    action: `case.export.thehive`,
    target_type: 'case',
    target_id: c.id,
    details: { kind, thehive_id: id, observables },
  });
  return { kind, thehive_id: id, observables, already: false };
}

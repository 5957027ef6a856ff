import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../ids.ts';
import type { Case } from '../schema/case.ts';
import { openStore, type Store } from '../store/index.ts';
import { exportToTheHive, theHiveSeverity } from './thehive.ts';

interface Recorded {
  method: string;
  path: string;
  auth: string | undefined;
  org: string | undefined;
  body: Record<string, unknown>;
}

/** A local server speaking the part of TheHive 5's REST API the export uses. */
function theHive(apiKey: string) {
  const seen: Recorded[] = [];
  let n = 0;
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    seen.push({
      method: req.method!,
      path: req.url!,
      auth: req.headers.authorization,
      org: req.headers['x-organisation'] as string | undefined,
      body,
    });
    const reply = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.headers.authorization !== `Bearer ${apiKey}`)
      return reply(401, { type: 'AuthenticationError', message: 'Authentication failure' });
    if (req.method === 'POST' && req.url === '/api/v1/case') {
      if (typeof body.title !== 'string' || typeof body.severity !== 'number')
        return reply(400, { type: 'BadRequest', message: 'title and severity are required' });
      return reply(201, {
        _id: `~${++n}`,
        _type: 'Case',
        number: n,
        title: body.title,
        severity: body.severity,
      });
    }
    if (req.method === 'POST' && /^\/api\/v1\/case\/[^/]+\/observable$/.test(req.url!)) {
      if (!body.dataType || !body.data)
        return reply(400, { type: 'BadRequest', message: 'dataType and data are required' });
      return reply(201, [{ _id: `~obs${++n}`, dataType: body.dataType, data: body.data }]);
    }
    if (req.method === 'POST' && req.url === '/api/v1/alert') {
      if (!body.type || !body.source || !body.sourceRef)
        return reply(400, { type: 'BadRequest', message: 'type, source and sourceRef are required' });
      return reply(201, { _id: `~alert${++n}`, _type: 'Alert' });
    }
    return reply(404, { type: 'NotFound', message: 'no route' });
  });
  return { server, seen };
}

describe('export to TheHive 5', () => {
  let store: Store;
  const hive = theHive('hive-key-123');
  let url: string;
  const now = new Date().toISOString();
  const c: Case = {
    id: uuidv7(),
    incident_id: uuidv7(),
    title: 'Stolen developer keys',
    description: 'Keys used from 203.0.113.45',
    status: 'in_progress',
    severity: 'critical',
    tasks: [
      { id: 't1', title: 'Contain', status: 'done' },
      { id: 't2', title: 'Eradicate', status: 'open', assignee: 'sam' },
    ],
    observables: [
      { type: 'ip', value: '203.0.113.45', ioc: true },
      { type: 'access_key', value: 'AKIAEXAMPLEALICE0001', ioc: true },
      { type: 'user', value: 'dev-alice', ioc: false },
    ],
    comments: [],
    timeline: [],
    created_at: now,
    updated_at: now,
  };

  beforeAll(async () => {
    store = await openStore({});
    await new Promise<void>((r) => hive.server.listen(0, '127.0.0.1', r));
    const addr = hive.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    await store.close();
    await new Promise((r) => hive.server.close(r));
  });

  it('creates a case with its tasks, then its observables, authenticated, once', async () => {
    const r = await exportToTheHive(
      store,
      c,
      { url, apiKey: 'hive-key-123', organisation: 'soc' },
      'case',
      'sam',
    );
    expect(r).toMatchObject({ kind: 'case', observables: 3, already: false });
    const [createCase, ...obs] = hive.seen;
    expect(createCase).toMatchObject({
      method: 'POST',
      path: '/api/v1/case',
      auth: 'Bearer hive-key-123',
      org: 'soc',
    });
    expect(createCase!.body).toMatchObject({
      title: 'Stolen developer keys',
      severity: 4,
      flag: true,
      tlp: 2,
    });
    expect(createCase!.body.tasks).toEqual([
      { title: 'Contain', order: 0, status: 'Completed' },
      { title: 'Eradicate', order: 1, status: 'Waiting', assignee: 'sam' },
    ]);
    expect(obs.map((o) => [o.path, o.body.dataType, o.body.data, o.body.ioc])).toEqual([
      [`/api/v1/case/${encodeURIComponent(r.thehive_id)}/observable`, 'ip', '203.0.113.45', true],
      [`/api/v1/case/${encodeURIComponent(r.thehive_id)}/observable`, 'other', 'AKIAEXAMPLEALICE0001', true],
      [`/api/v1/case/${encodeURIComponent(r.thehive_id)}/observable`, 'other', 'dev-alice', false],
    ]);
    const again = await exportToTheHive(store, c, { url, apiKey: 'hive-key-123' }, 'case', 'sam');
    expect(again).toMatchObject({ thehive_id: r.thehive_id, already: true });
    expect(hive.seen).toHaveLength(4);
    expect((await store.audit.list({ action: 'case.export.thehive' }))[0]!.details).toMatchObject({
      kind: 'case',
      thehive_id: r.thehive_id,
    });
  });

  it('creates an alert with observables inline', async () => {
    const before = hive.seen.length;
    const r = await exportToTheHive(store, c, { url, apiKey: 'hive-key-123' }, 'alert', 'sam');
    expect(r.kind).toBe('alert');
    const req = hive.seen[before]!;
    expect(req.path).toBe('/api/v1/alert');
    expect(req.body).toMatchObject({ type: 'aisoc', source: 'AI-SOC', sourceRef: c.id, severity: 4 });
    expect((req.body.observables as unknown[]).length).toBe(3);
  });

  it('reports TheHive refusing the key, or not answering, as typed errors', async () => {
    const other = { ...c, id: uuidv7() };
    await expect(
      exportToTheHive(store, other, { url, apiKey: 'wrong' }, 'case', 'sam'),
    ).rejects.toMatchObject({ code: 'AISOC_ERR_UNAUTHORIZED' });
    await expect(
      exportToTheHive(
        store,
        other,
        { url: 'http://127.0.0.1:9', apiKey: 'x', timeoutMs: 2000 },
        'case',
        'sam',
      ),
    ).rejects.toThrow(/did not answer/);
    expect(theHiveSeverity('informational')).toBe(1);
  });

  /** A server answering every request with `status` and a Location, recording what reached it. */
  async function redirector(status: number, location: (path: string) => string) {
    const seen: Array<{ method: string; path: string; auth?: string; body: string }> = [];
    const server = createServer(async (req, res) => {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      seen.push({ method: req.method!, path: req.url!, auth: req.headers.authorization, body: raw });
      res.writeHead(status, { location: location(req.url!) });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return { seen, base, close: () => new Promise((r) => server.close(r)) };
  }

  it('never re-POSTs a case to where a redirect points: 307 and 308 to another origin are errors', async () => {
    // Where the attacker wants the case (and the key) to go: a second local server, another origin.
    const elsewhere = await redirector(200, () => '/');
    try {
      for (const status of [307, 308, 301, 302, 303]) {
        const hop = await redirector(status, (path) => `${elsewhere.base}${path}`);
        try {
          const other = { ...c, id: uuidv7() };
          const err = await exportToTheHive(
            store,
            other,
            { url: hop.base, apiKey: 'hive-key-123' },
            'case',
            'sam',
          )
            .then(() => undefined)
            .catch((e: unknown) => e as { code: string; message: string; field?: string });
          expect(err, String(status)).toMatchObject({ field: 'thehive' });
          expect(err!.message).toMatch(/redirect/);
          expect(hop.seen, String(status)).toHaveLength(1);
          expect(await store.kv.get(`thehive:case:${other.id}`)).toBeUndefined();
        } finally {
          await hop.close();
        }
      }
      expect(elsewhere.seen).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  });
});

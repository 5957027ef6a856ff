import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlert, makeEvent, makeIncident } from '../../test/helpers/builders.ts';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { uuidv7 } from '../ids.ts';
import { type ActionRequest, LIVE_ACTION_STATUSES } from '../schema/response.ts';
import type { StoredVerdict } from '../schema/verdict.ts';
import { hashApiKey, openStore, type Store } from './index.ts';
import { migrate } from './migrations.ts';

const pgReady = await postgresAvailable();

const engines: Array<{
  name: string;
  open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>;
  enabled: boolean;
}> = [
  {
    name: 'pglite',
    enabled: true,
    open: async () => {
      const store = await openStore({});
      return { store, cleanup: () => store.close() };
    },
  },
  {
    name: 'postgres',
    enabled: pgReady,
    open: async () => {
      const db = await freshDatabase();
      const store = await openStore({ databaseUrl: db.url });
      return {
        store,
        cleanup: async () => {
          await store.close();
          await db.drop();
        },
      };
    },
  },
];

for (const engine of engines) {
  describe.runIf(engine.enabled)(`repository on ${engine.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ store, cleanup } = await engine.open());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    it('applies migrations once and is a no-op the second time', async () => {
      expect(await migrate(store.client)).toEqual([]);
      const r = await store.client.query<{ n: unknown }>('SELECT count(*) AS n FROM schema_migrations');
      expect(Number(r.rows[0]!.n)).toBeGreaterThanOrEqual(1);
    });

    it('inserts a batch in one statement, in order, and skips ids already stored', async () => {
      const a = makeEvent({ source: 'repo-a' });
      const b = makeEvent({ source: 'repo-a' });
      const first = await store.events.insert([a, b]);
      expect(first.duplicates).toBe(0);
      expect(first.stored.map((s) => s.id)).toEqual([a.id, b.id]);
      expect(first.stored[1]!.seq).toBeGreaterThan(first.stored[0]!.seq);
      const again = await store.events.insert([a, makeEvent({ source: 'repo-a' })]);
      expect(again.duplicates).toBe(1);
      expect(again.stored).toHaveLength(1);
      expect(await store.events.count({ source: 'repo-a' })).toBe(3);
    });

    it('round-trips an event with its raw record', async () => {
      const e = makeEvent({ source: 'repo-b', raw: { nested: { list: [1, 'two', null] }, n: 1.5 } });
      await store.events.insert([e]);
      const got = await store.events.get(e.id);
      expect(got).toEqual(e);
      expect(await store.events.get(uuidv7())).toBeUndefined();
    });

    it('round-trips a raw record of any JSON type: text lines (syslog) stay text, even when they look like JSON', async () => {
      const raws = [
        'Mar  9 07:02:14 bastion-01 sshd[42103]: Invalid user oracle',
        '{"a":1}',
        '42',
        'null',
        7,
        null,
      ];
      const events = raws.map((raw) => makeEvent({ source: 'repo-raw', raw }));
      await store.events.insert(events);
      for (const e of events) expect((await store.events.get(e.id))?.raw, String(e.raw)).toEqual(e.raw);
      const listed = await store.events.list({ source: 'repo-raw' });
      const asJson = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort();
      expect(asJson(listed.items.map((e) => e.raw))).toEqual(asJson(raws));
      const many = await store.events.getMany(events.map((e) => e.id));
      expect(asJson(many.map((e) => e.raw))).toEqual(asJson(raws));
      const replayed = await store.events.afterSeq(0, 1000);
      expect(replayed.find((r) => r.event.id === events[0]!.id)?.event.raw).toBe(raws[0]);
    });

    it('stores text PostgreSQL jsonb refuses (NUL, lone surrogates) as U+FFFD instead of failing', async () => {
      const e = makeEvent({
        source: 'repo-c',
        message: 'a\u0000b\ud800c',
        raw: { s: 'x\udc00\u0000y', ok: '\ud83d\ude00' },
      });
      await store.events.insert([e]);
      const got = await store.events.get(e.id);
      expect(got?.message).toBe('a\ufffdb\ufffdc');
      expect(got?.raw).toEqual({ s: 'x\ufffd\ufffdy', ok: '\ud83d\ude00' });
    });

    it('lists events by source and time range, newest first, with a total', async () => {
      const times = ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z'];
      await store.events.insert(times.map((time) => makeEvent({ source: 'repo-d', time })));
      const all = await store.events.list({ source: 'repo-d' });
      expect(all.total).toBe(3);
      expect(all.items.map((e) => e.time)).toEqual([...times].reverse());
      const ranged = await store.events.list({ source: 'repo-d', from: times[1], to: times[2] });
      expect(ranged.items.map((e) => e.time)).toEqual([times[1]]);
      const page = await store.events.list({ source: 'repo-d', limit: 1, offset: 1 });
      expect(page.total).toBe(3);
      expect(page.items.map((e) => e.time)).toEqual([times[1]]);
    });

    it('replays events after a log position in order, up to a bound', async () => {
      const start = await store.events.maxSeq();
      const batch = [
        makeEvent({ source: 'repo-e' }),
        makeEvent({ source: 'repo-e' }),
        makeEvent({ source: 'repo-e' }),
      ];
      const { stored } = await store.events.insert(batch);
      const rows = await store.events.afterSeq(start, 10);
      expect(rows.map((r) => r.event.id)).toEqual(batch.map((e) => e.id));
      const bounded = await store.events.afterSeq(start, 10, stored[1]!.seq);
      expect(bounded).toHaveLength(2);
    });

    it('purges expired events but never those the pipeline has not processed', async () => {
      const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
      const { stored } = await store.events.insert([
        makeEvent({ source: 'repo-f', time: old, ingested_at: old }),
        makeEvent({ source: 'repo-f', time: old, ingested_at: old }),
      ]);
      const cutoff = new Date(Date.now() - 30 * 86_400_000).toISOString();
      const { deleted } = await store.events.purge(cutoff, stored[0]!.seq);
      expect(deleted).toBe(1);
      expect(await store.events.count({ source: 'repo-f' })).toBe(1);
    });

    it('filters, sorts and pages alerts', async () => {
      const base = { source: 'repo-alerts' };
      const low = makeAlert({
        ...base,
        severity: 'low',
        priority: 20,
        last_seen: '2026-11-19T09:00:00.000Z',
      });
      const high = makeAlert({
        ...base,
        severity: 'high',
        priority: 75,
        last_seen: '2026-11-19T08:00:00.000Z',
      });
      const crit = makeAlert({
        ...base,
        severity: 'critical',
        priority: 90,
        status: 'closed',
        last_seen: '2026-11-19T07:00:00.000Z',
        detections: [
          {
            engine: 'sigma',
            rule_id: 'special-rule',
            rule_title: 'x',
            level: 'critical',
            tags: [],
            event_ids: [],
          },
        ],
      });
      await store.alerts.upsert([low, high, crit]);
      const byPriority = await store.alerts.list({ limit: 1000 });
      const ours = byPriority.items.filter((a) => a.source === 'repo-alerts').map((a) => a.id);
      expect(ours).toEqual([crit.id, high.id, low.id]);
      const byTime = (await store.alerts.list({ sort: 'time', limit: 1000 })).items.filter(
        (a) => a.source === 'repo-alerts',
      );
      expect(byTime.map((a) => a.id)).toEqual([low.id, high.id, crit.id]);
      expect((await store.alerts.list({ severity: ['high'], limit: 1000 })).items.map((a) => a.id)).toContain(
        high.id,
      );
      const minHigh = (await store.alerts.list({ min_severity: 'high', limit: 1000 })).items.map((a) => a.id);
      expect(minHigh).toContain(crit.id);
      expect(minHigh).not.toContain(low.id);
      expect((await store.alerts.list({ rule: 'special-rule' })).items.map((a) => a.id)).toEqual([crit.id]);
      expect((await store.alerts.list({ status: ['closed'], limit: 1000 })).items.map((a) => a.id)).toContain(
        crit.id,
      );
      const window = (await store.alerts.list({ from: '2026-11-19T08:30:00.000Z', limit: 1000 })).items.map(
        (a) => a.id,
      );
      expect(window).toContain(low.id);
      expect(window).not.toContain(crit.id);
    });

    it('updates an alert in place and finds recent ones by fingerprint', async () => {
      const a = makeAlert({ source: 'repo-fp', fingerprint: 'fp-test-1' });
      await store.alerts.upsert([a]);
      await store.alerts.upsert([{ ...a, count: 5, status: 'closed' }]);
      expect((await store.alerts.get(a.id))?.count).toBe(5);
      expect(
        await store.alerts.findRecentByFingerprint(['fp-test-1'], '2026-11-19T00:00:00.000Z'),
      ).toHaveLength(0);
      await store.alerts.upsert([{ ...a, status: 'new' }]);
      expect(
        await store.alerts.findRecentByFingerprint(['fp-test-1'], '2026-11-19T00:00:00.000Z'),
      ).toHaveLength(1);
      expect(
        await store.alerts.findRecentByFingerprint(['fp-test-1'], '2026-11-20T00:00:00.000Z'),
      ).toHaveLength(0);
    });

    it('keeps incidents and lists the open ones in a window', async () => {
      const open = makeIncident({ last_seen: '2026-11-19T10:00:00.000Z' });
      const closed = makeIncident({ status: 'closed', last_seen: '2026-11-19T10:00:00.000Z' });
      await store.incidents.upsert([open, closed]);
      const ids = (await store.incidents.listOpenSince('2026-11-19T09:00:00.000Z')).map((i) => i.id);
      expect(ids).toContain(open.id);
      expect(ids).not.toContain(closed.id);
      expect((await store.incidents.get(open.id))?.title).toBe('Test incident');
    });

    it('stores verdicts and finds the latest by alert and by cache key', async () => {
      const v = (at: string, summary: string): StoredVerdict => ({
        id: uuidv7(),
        alert_id: 'alert-x',
        subject_type: 'alert',
        fingerprint: 'fp-v',
        cache_key: 'key-v',
        analyst: 'builtin',
        checked: true,
        repaired: false,
        created_at: at,
        response: {
          alert_id: 'alert-x',
          analysis_timestamp: at,
          severity: 'high',
          category: 'credential_access',
          confidence: 0.8,
          summary,
          detailed_analysis: '',
          potential_impact: '',
          is_true_positive: true,
          iocs: [],
          mitre_techniques: [],
          mitre_tactics: [],
          recommendations: [],
          investigation_priority: 2,
          model_used: 'builtin',
          processing_time_ms: 1,
          knowledge_base_references: [],
          evidence: [],
          disputed: false,
        },
      });
      await store.verdicts.insert(v('2026-11-19T08:00:00.000Z', 'first'));
      await store.verdicts.insert(v('2026-11-19T09:00:00.000Z', 'second'));
      await store.verdicts.insert({ ...v('2026-11-19T10:00:00.000Z', 'other key'), cache_key: 'key-w' });
      expect((await store.verdicts.latestFor('alert-x'))?.response.summary).toBe('other key');
      expect((await store.verdicts.latestByCacheKey('key-v'))?.response.summary).toBe('second');
      expect((await store.verdicts.latestByCacheKey('key-w'))?.response.summary).toBe('other key');
      expect(await store.verdicts.latestByCacheKey('key-none')).toBeUndefined();
    });

    it('allows one open case per incident', async () => {
      const incidentId = uuidv7();
      const now = new Date().toISOString();
      const c = {
        id: uuidv7(),
        incident_id: incidentId,
        title: 'c',
        status: 'new' as const,
        severity: 'high' as const,
        tasks: [],
        observables: [],
        comments: [],
        timeline: [],
        created_at: now,
        updated_at: now,
      };
      await store.cases.upsert(c);
      await expect(store.cases.upsert({ ...c, id: uuidv7() })).rejects.toThrow();
      expect((await store.cases.openForIncident(incidentId))?.id).toBe(c.id);
      await store.cases.upsert({ ...c, status: 'closed', resolution: 'false_positive' });
      await store.cases.upsert({ ...c, id: uuidv7() });
      expect((await store.cases.list({ status: ['new'], limit: 1000 })).total).toBeGreaterThanOrEqual(1);
    });

    it('keeps the audit log append-only, enforced by the database', async () => {
      const e = await store.audit.append({
        actor: 'tester',
        action: 'test.action',
        target_type: 'alert',
        target_id: 'a1',
        reason: 'because',
        details: { k: 1 },
      });
      expect(e.id).toBeGreaterThan(0);
      const listed = await store.audit.list({ target_id: 'a1' });
      expect(listed.map((x) => x.action)).toEqual(['test.action']);
      expect(listed[0]!.details).toEqual({ k: 1 });
      await expect(store.client.query("UPDATE audit_log SET actor = 'mallory'")).rejects.toThrow(
        /append-only/,
      );
      await expect(store.client.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
      expect(await store.audit.list({ target_id: 'a1' })).toHaveLength(1);
    });

    it('takes an audit entry whose text PostgreSQL refuses, with the text replaced', async () => {
      const e = await store.audit.append({
        actor: 'nul\u0000actor',
        action: 'test.nul',
        target_type: 'action',
        target_id: 'nul-target',
        reason: 'reason with \u0000 NUL and a lone \ud800 surrogate',
      });
      expect(e.id).toBeGreaterThan(0);
      const [got] = await store.audit.list({ target_id: 'nul-target' });
      expect(got!.reason).toBe('reason with \ufffd NUL and a lone \ufffd surrogate');
      expect(got!.actor).toBe('nul\ufffdactor');
    });

    const actionRequest = (key: string, extra: Partial<ActionRequest> = {}): ActionRequest => {
      const now = new Date().toISOString();
      return {
        id: uuidv7(),
        idempotency_key: key,
        type: 'local.block_ip',
        effect: 'reversible',
        input: { ip: '203.0.113.5' },
        status: 'pending_approval',
        dry_run: true,
        requested_by: 'responder-1',
        reason: 'test',
        needs_approval: true,
        created_at: now,
        updated_at: now,
        ...extra,
      };
    };

    it('dedupes an idempotency key only among live requests', async () => {
      const key = `live:${uuidv7()}`;
      const first = await store.actions.createOrGet(actionRequest(key));
      expect(first.created).toBe(true);
      const again = await store.actions.createOrGet(actionRequest(key));
      expect(again).toMatchObject({ created: false, request: { id: first.request.id } });
      // Every status that no longer stands for its effect frees the key; every live one holds it.
      for (const ended of ['denied', 'expired', 'failed', 'rolled_back', 'skipped'] as const) {
        const current = (await store.actions.createOrGet(actionRequest(key))).request;
        await store.actions.transition(current.id, [current.status], { status: ended });
        const next = await store.actions.createOrGet(actionRequest(key));
        expect(next.created, ended).toBe(true);
        expect(next.request.id).not.toBe(current.id);
      }
      for (const live of LIVE_ACTION_STATUSES) {
        const current = (await store.actions.createOrGet(actionRequest(key))).request;
        await store.actions.transition(current.id, [current.status], { status: live });
        const next = await store.actions.createOrGet(actionRequest(key));
        expect(next, live).toMatchObject({ created: false, request: { id: current.id, status: live } });
        await store.actions.transition(current.id, [live], { status: 'failed' });
      }
      const rows = await store.client.query<{ n: unknown }>(
        'SELECT count(*) AS n FROM action_requests WHERE idempotency_key = $1',
        [key],
      );
      // The first request, one per ended status, and one per live status but the first (which reused the last).
      expect(Number(rows.rows[0]!.n)).toBe(1 + 5 + LIVE_ACTION_STATUSES.length - 1);
    });

    it('makes one live request when two writers race with the same key', async () => {
      const key = `race:${uuidv7()}`;
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.actions.createOrGet(actionRequest(key))),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.request.id)).size).toBe(1);
    });

    it('records approvals atomically: never the requester, never one person twice, approved at the minimum', async () => {
      const req = (await store.actions.createOrGet(actionRequest(`appr:${uuidv7()}`, { approvals: [] })))
        .request;
      const at = new Date().toISOString();
      expect(await store.actions.addApproval(req.id, { by: 'responder-1', at }, 2)).toBeUndefined();
      const one = await store.actions.addApproval(req.id, { by: 'responder-2', at, comment: 'ok' }, 2);
      expect(one).toMatchObject({
        status: 'pending_approval',
        approvals: [{ by: 'responder-2', comment: 'ok' }],
      });
      expect(await store.actions.addApproval(req.id, { by: 'responder-2', at }, 2)).toBeUndefined();
      const two = await store.actions.addApproval(req.id, { by: 'responder-3', at }, 2);
      expect(two).toMatchObject({ status: 'approved', decided_by: 'responder-3' });
      // The document keeps ISO timestamps, as every other writer does.
      expect(two!.decided_at).toBe(two!.updated_at);
      expect(new Date(two!.decided_at!).toISOString()).toBe(two!.decided_at);
      expect(two!.approvals!.map((a) => a.by)).toEqual(['responder-2', 'responder-3']);
      expect(two).not.toHaveProperty('decision_comment');
      expect(await store.actions.addApproval(req.id, { by: 'responder-4', at }, 2)).toBeUndefined();
      expect((await store.actions.get(req.id))!.status).toBe('approved');
    });

    it('keeps dead letters with reasons', async () => {
      const before = await store.deadLetters.count();
      await store.deadLetters.insert([
        {
          source: 'repo-dl',
          stage: 'normalise',
          code: 'AISOC_ERR_PARSE',
          reason: 'eventTime is required',
          field: 'eventTime',
          record: '{}',
        },
      ]);
      const list = await store.deadLetters.list({ source: 'repo-dl' });
      expect(list.items[0]).toMatchObject({
        reason: 'eventTime is required',
        field: 'eventTime',
        stage: 'normalise',
      });
      expect(await store.deadLetters.count()).toBe(before + 1);
    });

    it('stores API keys only as hashes and honours revocation', async () => {
      const { key, record } = await store.apiKeys.create('repo-key', ['read', 'ingest']);
      const r = await store.client.query<{ hash: string }>('SELECT hash FROM api_keys WHERE id = $1', [
        record.id,
      ]);
      expect(r.rows[0]!.hash).toBe(hashApiKey(key));
      const dump = JSON.stringify((await store.client.query('SELECT * FROM api_keys')).rows);
      expect(dump).not.toContain(key);
      expect((await store.apiKeys.findActiveByKey(key))?.scopes).toEqual(['read', 'ingest']);
      expect(await store.apiKeys.revoke('repo-key')).toBe(true);
      expect(await store.apiKeys.findActiveByKey(key)).toBeUndefined();
      expect(await store.apiKeys.revoke('repo-key')).toBe(false);
    });

    it('rolls a transaction back completely when it fails', async () => {
      const e = makeEvent({ source: 'repo-tx' });
      await expect(
        store.transaction(async (tx) => {
          await tx.events.insert([e]);
          await tx.deadLetters.insert([
            { source: 'repo-tx', stage: 's', code: 'c', reason: 'r', record: 'x' },
          ]);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.events.get(e.id)).toBeUndefined();
      expect((await store.deadLetters.list({ source: 'repo-tx' })).total).toBe(0);
    });

    it('keeps one pending work item per topic and key, and schedules retries', async () => {
      await store.work.enqueue('triage', 'alert-1', { v: 1 });
      await store.work.enqueue('triage', 'alert-1', { v: 2 });
      await store.work.enqueue('triage', 'alert-2', { v: 1 });
      expect(await store.work.count('triage')).toBe(2);
      const due = await store.work.claim('triage', 10, { owner: 'repo-test', leaseMs: 60_000 });
      expect(due.map((d) => [d.key, d.payload])).toEqual([
        ['alert-1', { v: 2 }],
        ['alert-2', { v: 1 }],
      ]);
      expect(await store.work.retryLater(due[0]!, 60_000, 'backend down')).toBe('settled');
      expect(await store.work.claim('triage', 10, { owner: 'repo-test', leaseMs: 60_000 })).toEqual([]);
      expect(await store.work.done(due[1]!)).toBe('settled');
      expect(await store.work.count('triage')).toBe(1);
    });

    it('keeps pipeline offsets and key-value state', async () => {
      expect(await store.offsets.get('repo-offset')).toBe(0);
      await store.offsets.set('repo-offset', 42);
      await store.offsets.set('repo-offset', 43);
      expect(await store.offsets.get('repo-offset')).toBe(43);
      await store.kv.set('repo-kv', { a: [1, 2] });
      expect(await store.kv.get('repo-kv')).toEqual({ a: [1, 2] });
      await store.kv.delete('repo-kv');
      expect(await store.kv.get('repo-kv')).toBeUndefined();
    });

    it('counts the events after a log position (what a restarted pipeline has left)', async () => {
      const start = await store.events.maxSeq();
      expect(await store.events.countAfter(start)).toBe(0);
      const { stored } = await store.events.insert([
        makeEvent({ source: 'repo-count' }),
        makeEvent({ source: 'repo-count' }),
      ]);
      expect(await store.events.countAfter(start)).toBe(2);
      expect(await store.events.countAfter(stored[0]!.seq)).toBe(1);
    });

    it('keeps knowledge documents added at run time, replacing by collection and id', async () => {
      const doc = { id: 'repo-doc', title: 'VPN', text: 'Use the VPN.', metadata: { tags: ['net'] } };
      await store.knowledge.upsert('repo_notes', doc, 'api', 'alice');
      await store.knowledge.upsert('repo_notes', { ...doc, text: 'Use the new VPN.' }, 'case', 'bob');
      const mine = (await store.knowledge.all()).filter((d) => d.collection === 'repo_notes');
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ ...doc, text: 'Use the new VPN.', origin: 'case', added_by: 'bob' });
      expect(Number.isNaN(Date.parse(mine[0]!.updated_at))).toBe(false);
      expect(await store.knowledge.remove('repo_notes', 'repo-doc')).toBe(true);
      expect(await store.knowledge.remove('repo_notes', 'repo-doc')).toBe(false);
    });

    it('answers a ping while the database is reachable', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}

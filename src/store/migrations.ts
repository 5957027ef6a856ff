import type { SqlClient } from './sql.ts';

/**
 * One ordered list of migrations for both engines. Append only: a released
 * migration is never edited; a change is a new entry. `pglite` runs after
 * `sql` on the embedded engine only (settings that suit it and not a server).
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string; pglite?: string }> = [
  {
    version: 1,
    name: 'core',
    sql: `
CREATE TABLE events (
  seq          bigserial UNIQUE,
  id           uuid PRIMARY KEY,
  source       text NOT NULL,
  source_event_id text,
  time         timestamptz NOT NULL,
  ingested_at  timestamptz NOT NULL,
  class_uid    integer NOT NULL,
  severity_id  integer NOT NULL,
  doc          jsonb NOT NULL,
  raw          jsonb
);
CREATE INDEX events_time_idx ON events (time DESC);
CREATE INDEX events_source_time_idx ON events (source, time DESC);
CREATE INDEX events_ingested_idx ON events (ingested_at);

CREATE TABLE alerts (
  id           uuid PRIMARY KEY,
  fingerprint  text NOT NULL,
  status       text NOT NULL,
  severity     text NOT NULL,
  severity_rank integer NOT NULL,
  priority     real NOT NULL,
  source       text NOT NULL,
  rule_ids     text[] NOT NULL,
  incident_id  uuid,
  first_seen   timestamptz NOT NULL,
  last_seen    timestamptz NOT NULL,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  doc          jsonb NOT NULL
);
CREATE INDEX alerts_fingerprint_idx ON alerts (fingerprint, last_seen DESC);
CREATE INDEX alerts_priority_idx ON alerts (priority DESC, last_seen DESC);
CREATE INDEX alerts_last_seen_idx ON alerts (last_seen DESC);
CREATE INDEX alerts_incident_idx ON alerts (incident_id);

CREATE TABLE incidents (
  id           uuid PRIMARY KEY,
  status       text NOT NULL,
  severity     text NOT NULL,
  severity_rank integer NOT NULL,
  priority     real NOT NULL,
  first_seen   timestamptz NOT NULL,
  last_seen    timestamptz NOT NULL,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  doc          jsonb NOT NULL
);
CREATE INDEX incidents_last_seen_idx ON incidents (last_seen DESC);

CREATE TABLE verdicts (
  id           uuid PRIMARY KEY,
  alert_id     text NOT NULL,
  fingerprint  text,
  created_at   timestamptz NOT NULL,
  doc          jsonb NOT NULL
);
CREATE INDEX verdicts_alert_idx ON verdicts (alert_id, created_at DESC);
CREATE INDEX verdicts_fingerprint_idx ON verdicts (fingerprint, created_at DESC);

CREATE TABLE cases (
  id           uuid PRIMARY KEY,
  incident_id  uuid,
  status       text NOT NULL,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  doc          jsonb NOT NULL
);
CREATE UNIQUE INDEX cases_open_incident_idx ON cases (incident_id) WHERE status <> 'closed' AND incident_id IS NOT NULL;

CREATE TABLE audit_log (
  id           bigserial PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  actor        text NOT NULL,
  action       text NOT NULL,
  target_type  text NOT NULL,
  target_id    text NOT NULL,
  reason       text,
  details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_target_idx ON audit_log (target_type, target_id);

-- The audit log is append-only: updates and deletes are refused by the database itself.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE dead_letters (
  id           bigserial PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  source       text NOT NULL,
  stage        text NOT NULL,
  code         text NOT NULL,
  reason       text NOT NULL,
  field        text,
  record       text NOT NULL
);
CREATE INDEX dead_letters_at_idx ON dead_letters (at DESC);

CREATE TABLE api_keys (
  id           uuid PRIMARY KEY,
  name         text NOT NULL UNIQUE,
  prefix       text NOT NULL,
  hash         text NOT NULL UNIQUE,
  scopes       text[] NOT NULL,
  created_at   timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at   timestamptz
);

CREATE TABLE pipeline_offsets (
  name         text PRIMARY KEY,
  seq          bigint NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE kv (
  key          text PRIMARY KEY,
  value        jsonb NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 2,
    name: 'response',
    sql: `
-- Feedback: a case closed as false positive can suppress a rule for an entity until it expires.
CREATE TABLE suppressions (
  id           uuid PRIMARY KEY,
  rule_id      text NOT NULL,
  entity_type  text NOT NULL,
  entity_value text NOT NULL,
  expires_at   timestamptz NOT NULL,
  reason       text NOT NULL,
  created_by   text NOT NULL,
  case_id      uuid,
  created_at   timestamptz NOT NULL,
  revoked_at   timestamptz
);
CREATE INDEX suppressions_rule_idx ON suppressions (rule_id, expires_at);

-- Every action a playbook or a person requests; the idempotency key makes a second request the same row.
CREATE TABLE action_requests (
  id              uuid PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  type            text NOT NULL,
  effect          text NOT NULL,
  status          text NOT NULL,
  dry_run         boolean NOT NULL,
  requested_by    text NOT NULL,
  alert_id        uuid,
  incident_id     uuid,
  run_id          uuid,
  expires_at      timestamptz,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  doc             jsonb NOT NULL
);
CREATE INDEX action_requests_status_idx ON action_requests (status, created_at DESC);
CREATE INDEX action_requests_run_idx ON action_requests (run_id);

-- Playbook runs, checkpointed after every step so a restart resumes where it stopped.
CREATE TABLE playbook_runs (
  id           uuid PRIMARY KEY,
  playbook     text NOT NULL,
  subject_type text NOT NULL,
  subject_id   text NOT NULL,
  status       text NOT NULL,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  doc          jsonb NOT NULL,
  UNIQUE (playbook, subject_type, subject_id)
);
CREATE INDEX playbook_runs_status_idx ON playbook_runs (status, updated_at);

-- A durable work queue for the slower stages (triage, playbooks): one pending item per topic and key.
CREATE TABLE work_queue (
  id           bigserial PRIMARY KEY,
  topic        text NOT NULL,
  key          text NOT NULL,
  payload      jsonb NOT NULL,
  attempts     integer NOT NULL DEFAULT 0,
  available_at timestamptz NOT NULL DEFAULT now(),
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (topic, key)
);
CREATE INDEX work_queue_topic_idx ON work_queue (topic, available_at, id);
`,
  },
  {
    version: 3,
    name: 'knowledge',
    sql: `
-- Knowledge documents added at run time (API, closed incidents and cases); built-in content is rebuilt from files.
CREATE TABLE knowledge_documents (
  collection   text NOT NULL,
  id           text NOT NULL,
  title        text NOT NULL,
  text         text NOT NULL,
  metadata     jsonb NOT NULL,
  origin       text NOT NULL,
  added_by     text NOT NULL,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (collection, id)
);
`,
  },
  {
    version: 4,
    name: 'live-idempotency',
    sql: `
-- An idempotency key is unique only among requests that still stand for their effect (LIVE_ACTION_STATUSES in
-- src/schema/response.ts): after a denial, failure, expiry or rollback the same request may be made again.
ALTER TABLE action_requests DROP CONSTRAINT action_requests_idempotency_key_key;
CREATE UNIQUE INDEX action_requests_live_key_idx ON action_requests (idempotency_key)
  WHERE status IN ('pending_approval', 'approved', 'running', 'succeeded', 'dry_run', 'interrupted', 'rollback_failed');
CREATE INDEX action_requests_key_idx ON action_requests (idempotency_key);
`,
  },
  {
    version: 5,
    name: 'verdict_cache_key',
    sql: `
-- Verdicts are cached by a hash of the whole analysis input, the analyst and the knowledge version (docs/analyst.md),
-- no longer by alert fingerprint. Verdicts stored before have no key and are never served from the cache.
ALTER TABLE verdicts ADD COLUMN cache_key text;
CREATE INDEX verdicts_cache_key_idx ON verdicts (cache_key, created_at DESC);
DROP INDEX IF EXISTS verdicts_fingerprint_idx;
`,
  },
  {
    version: 6,
    name: 'shared-postgres',
    sql: `
-- Work items are claimed under a lease (claimed_by until lease_until); claims numbers the claims, so an
-- outdated claim is told apart from the current one. version grows when an item is queued again while it is
-- pending or claimed: completing a claim of an older version leaves the newer work due.
ALTER TABLE work_queue ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE work_queue ADD COLUMN claims integer NOT NULL DEFAULT 0;
ALTER TABLE work_queue ADD COLUMN claimed_by text;
ALTER TABLE work_queue ADD COLUMN lease_until timestamptz;

-- One checkpoint per consumer: the embedded runner's is named for it.
UPDATE pipeline_offsets SET name = 'embedded-runner'
 WHERE name = 'events' AND NOT EXISTS (SELECT 1 FROM pipeline_offsets WHERE name = 'embedded-runner');

-- A playbook step makes at most one action request per run: a second pass over the same step finds it.
-- Requests stored before keep their step in the document; the newest of each run and step gets the column.
ALTER TABLE action_requests ADD COLUMN step_id text;
UPDATE action_requests a SET step_id = a.doc->>'step_id'
 WHERE a.run_id IS NOT NULL AND a.doc->>'step_id' IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM action_requests b
                    WHERE b.run_id = a.run_id AND b.doc->>'step_id' = a.doc->>'step_id'
                      AND (b.created_at, b.id) > (a.created_at, a.id));
CREATE UNIQUE INDEX action_requests_run_step_idx ON action_requests (run_id, step_id)
  WHERE run_id IS NOT NULL AND step_id IS NOT NULL;
-- A running action is someone's until this time (its timeout and a margin): only after it may another process
-- decide that its runner died and mark it interrupted.
ALTER TABLE action_requests ADD COLUMN running_until timestamptz;

-- A case opened by a playbook step remembers which (run and step): a second pass returns it, even once closed.
ALTER TABLE cases ADD COLUMN origin text;
CREATE UNIQUE INDEX cases_origin_idx ON cases (origin) WHERE origin IS NOT NULL;
`,
  },
  {
    version: 7,
    name: 'events_partitioned',
    sql: `
-- Events at volume (docs/ARCHITECTURE.md, Storage): the events table is partitioned by day on part_time, which is the
-- event time when the event's day has a partition (days near the present, made on demand by the repository) and
-- -infinity otherwise (the catch-all partition). Dedupe is unique (id, part_time); the id is a hash over the source,
-- its event id and the event time, so the same event always has the same id and time. seq stays the global log order.
ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE events_unpartitioned DROP CONSTRAINT events_pkey;
ALTER TABLE events_unpartitioned DROP CONSTRAINT events_seq_key;
DROP INDEX events_time_idx;
DROP INDEX events_source_time_idx;
DROP INDEX events_ingested_idx;
ALTER TABLE events_unpartitioned ALTER COLUMN seq DROP DEFAULT;
ALTER SEQUENCE events_seq_seq OWNED BY NONE;

CREATE TABLE events (
  seq             bigint NOT NULL DEFAULT nextval('events_seq_seq'),
  id              uuid NOT NULL,
  source          text NOT NULL,
  source_event_id text,
  time            timestamptz NOT NULL,
  part_time       timestamptz NOT NULL,
  ingested_at     timestamptz NOT NULL,
  class_uid       integer NOT NULL,
  severity_id     integer NOT NULL,
  src_ip          inet,
  dst_ip          inet,
  doc             jsonb NOT NULL,
  raw             jsonb,
  CONSTRAINT events_id_part_key UNIQUE (id, part_time)
) PARTITION BY RANGE (part_time);
ALTER SEQUENCE events_seq_seq OWNED BY events.seq;
CREATE TABLE events_catchall PARTITION OF events FOR VALUES FROM (MINVALUE) TO ('1900-01-01 00:00:00+00');

CREATE INDEX events_seq_idx ON events (seq);
CREATE INDEX events_time_idx ON events (time DESC, seq DESC);
CREATE INDEX events_source_time_idx ON events (source, time DESC);
CREATE INDEX events_ingested_idx ON events (ingested_at);
CREATE INDEX events_user_idx ON events ((lower(doc #>> '{actor,user,name}')))
  WHERE lower(doc #>> '{actor,user,name}') IS NOT NULL;
CREATE INDEX events_src_ip_idx ON events (src_ip) WHERE src_ip IS NOT NULL;
CREATE INDEX events_dst_ip_idx ON events (dst_ip) WHERE dst_ip IS NOT NULL;
CREATE INDEX events_hosts_idx ON events USING gin ((array_remove(ARRAY[lower(doc #>> '{device,hostname}'), lower(doc #>> '{src_endpoint,hostname}'), lower(doc #>> '{dst_endpoint,hostname}')], NULL)));
CREATE INDEX events_text_idx ON events USING gin ((to_tsvector('simple',
  coalesce(doc #>> '{message}', '') || ' ' ||
  coalesce(doc #>> '{activity_name}', '') || ' ' ||
  coalesce(doc #>> '{status_detail}', '') || ' ' ||
  coalesce(doc #>> '{actor,user,name}', '') || ' ' ||
  coalesce(doc #>> '{actor,process,cmd_line}', '') || ' ' ||
  coalesce(doc #>> '{process,cmd_line}', '') || ' ' ||
  coalesce(doc #>> '{process,parent,cmd_line}', '') || ' ' ||
  coalesce(doc #>> '{file,path}', '') || ' ' ||
  coalesce(doc #>> '{cloud,operation}', '') || ' ' ||
  coalesce(doc #>> '{cloud,error_code}', '') || ' ' ||
  coalesce(doc #>> '{cloud,error_message}', '') || ' ' ||
  coalesce(doc #>> '{http,url}', '') || ' ' ||
  coalesce(doc #>> '{dns,query}', '') || ' ' ||
  coalesce(doc #>> '{finding,title}', '') || ' ' ||
  coalesce(doc #>> '{device,hostname}', '') || ' ' ||
  coalesce(doc #>> '{src_endpoint,hostname}', '') || ' ' ||
  coalesce(doc #>> '{dst_endpoint,hostname}', ''))));

-- Day partitions for the stored events of the days the repository would partition now (31 days back to 1 ahead).
DO $$
DECLARE d date;
BEGIN
  FOR d IN
    SELECT DISTINCT (time AT TIME ZONE 'UTC')::date FROM events_unpartitioned
    WHERE (time AT TIME ZONE 'UTC')::date BETWEEN (now() AT TIME ZONE 'UTC')::date - 31 AND (now() AT TIME ZONE 'UTC')::date + 1
  LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
      'events_p' || to_char(d, 'YYYYMMDD'), to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
  END LOOP;
END
$$;

-- Addresses as the repository stores them: inet, IPv4-mapped IPv6 as IPv4, anything else (a name, a prefix, a zone) none.
CREATE FUNCTION aisoc_m7_ip(t text) RETURNS inet LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE v inet;
BEGIN
  IF t IS NULL OR t !~ '^[0-9A-Fa-f:.]+$' OR (t LIKE '%.%' AND t ~ '(^|[.:])0[0-9]') THEN
    RETURN NULL;
  END IF;
  v := t::inet;
  IF family(v) = 6 AND v <<= '::ffff:0.0.0.0/96'::inet THEN
    RETURN '0.0.0.0'::inet + (v - '::ffff:0.0.0.0'::inet);
  END IF;
  RETURN v;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;

INSERT INTO events (seq, id, source, source_event_id, time, part_time, ingested_at, class_uid, severity_id, src_ip, dst_ip, doc, raw)
SELECT seq, id, source, source_event_id, time,
       CASE WHEN to_regclass('events_p' || to_char(time AT TIME ZONE 'UTC', 'YYYYMMDD')) IS NOT NULL
            THEN time ELSE '-infinity'::timestamptz END,
       ingested_at, class_uid, severity_id,
       aisoc_m7_ip(doc #>> '{src_endpoint,ip}'), aisoc_m7_ip(doc #>> '{dst_endpoint,ip}'), doc, raw
FROM events_unpartitioned ORDER BY seq;

DROP FUNCTION aisoc_m7_ip(text);
DROP TABLE events_unpartitioned;
`,
  },
  {
    version: 8,
    name: 'correlate_state',
    sql: `
-- The correlate stage across processes (docs/ARCHITECTURE.md, Correlate). One row: every correlate transaction
-- locks it first (SELECT ... FOR UPDATE), so batches correlate one at a time whichever process runs them; version
-- counts the saves of the correlation windows (a process reloads what changed when it is not the last to have
-- saved), pruned_below is the version under which deleted groups are forgotten (a process further behind reloads
-- every window), watermarks the latest event time (ms) per correlation window.
CREATE TABLE correlate_state (
  id           smallint PRIMARY KEY CHECK (id = 1),
  version      bigint NOT NULL,
  pruned_below bigint NOT NULL,
  watermarks   jsonb NOT NULL,
  updated_at   timestamptz NOT NULL
);
INSERT INTO correlate_state (id, version, pruned_below, watermarks, updated_at) VALUES (1, 0, 0, '{}', now());

-- Sigma correlation windows, one row per group: the state a process restores (state NULL: the group is gone,
-- kept until pruned so processes behind learn it). version is the save that last wrote the row.
CREATE TABLE correlation_windows (
  detector       text NOT NULL,
  correlation_id text NOT NULL,
  group_key      text NOT NULL,
  last_ms        bigint NOT NULL,
  version        bigint NOT NULL,
  state          jsonb,
  PRIMARY KEY (detector, correlation_id, group_key)
);
CREATE INDEX correlation_windows_version_idx ON correlation_windows (version);

-- Keys of the items a stage has processed, written in the transaction of their effects: a redelivered item is
-- recognised and changes nothing. Pruned by age (see src/correlate/index.ts).
CREATE TABLE stage_inbox (
  stage text NOT NULL,
  key   text NOT NULL,
  at    timestamptz NOT NULL,
  PRIMARY KEY (stage, key)
);
CREATE INDEX stage_inbox_at_idx ON stage_inbox (stage, at);
`,
  },
  {
    version: 9,
    name: 'alert_search',
    sql: `
-- The analyst console (docs/ARCHITECTURE.md, The console). GET /alerts filters, sorts and counts over many alerts:
-- over the alerts table that read every alert's document (1-3 KiB inline in each row; too small for TOAST), so it
-- is done over alert_search, one narrow row per alert kept by a trigger in the transaction of every write to
-- alerts, then the page's documents are read by id. techniques holds each technique upper-cased and its parent
-- (T1078.004 and T1078): a filter on a parent matches its sub-techniques through one index. entity_values holds the
-- entities' values lower-cased (the entity filter), entities their type:value (the overview's top entities).
-- Titles repeat (one per rule, mostly): a title filter reads the distinct titles in alert_titles, then the index.
CREATE TABLE alert_titles (
  id     bigserial PRIMARY KEY,
  title  text NOT NULL UNIQUE
);
CREATE TABLE alert_search (
  id            uuid PRIMARY KEY REFERENCES alerts (id) ON DELETE CASCADE,
  status        text NOT NULL,
  severity      text NOT NULL,
  severity_rank integer NOT NULL,
  priority      real NOT NULL,
  source        text NOT NULL,
  rule_ids      text[] NOT NULL,
  incident_id   uuid,
  first_seen    timestamptz NOT NULL,
  last_seen     timestamptz NOT NULL,
  title_id      bigint NOT NULL,
  techniques    text[] NOT NULL,
  entity_values text[] NOT NULL,
  entities      text[] NOT NULL
);

CREATE FUNCTION aisoc_alert_search_put(a alerts) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  t text := COALESCE(a.doc->>'title', '');
  tid bigint;
BEGIN
  SELECT id INTO tid FROM alert_titles WHERE title = t;
  IF tid IS NULL THEN
    INSERT INTO alert_titles (title) VALUES (t) ON CONFLICT (title) DO NOTHING;
    SELECT id INTO tid FROM alert_titles WHERE title = t;
  END IF;
  INSERT INTO alert_search (id, status, severity, severity_rank, priority, source, rule_ids, incident_id,
                            first_seen, last_seen, title_id, techniques, entity_values, entities)
  VALUES (a.id, a.status, a.severity, a.severity_rank, a.priority, a.source, a.rule_ids,
          a.incident_id, a.first_seen, a.last_seen, tid,
          ARRAY(SELECT DISTINCT x FROM jsonb_array_elements_text(COALESCE(a.doc->'mitre_techniques', '[]'::jsonb)) AS m(v),
                  LATERAL unnest(ARRAY[upper(m.v), split_part(upper(m.v), '.', 1)]) AS x),
          ARRAY(SELECT DISTINCT lower(e->>'value') FROM jsonb_array_elements(COALESCE(a.doc->'entities', '[]'::jsonb)) AS e
                 WHERE e->>'value' IS NOT NULL),
          ARRAY(SELECT DISTINCT (e->>'type') || ':' || (e->>'value') FROM jsonb_array_elements(COALESCE(a.doc->'entities', '[]'::jsonb)) AS e
                 WHERE e->>'value' IS NOT NULL AND e->>'type' IS NOT NULL))
  ON CONFLICT (id) DO UPDATE SET
    status = EXCLUDED.status, severity = EXCLUDED.severity, severity_rank = EXCLUDED.severity_rank,
    priority = EXCLUDED.priority, source = EXCLUDED.source, rule_ids = EXCLUDED.rule_ids,
    incident_id = EXCLUDED.incident_id, first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen,
    title_id = EXCLUDED.title_id, techniques = EXCLUDED.techniques, entity_values = EXCLUDED.entity_values,
    entities = EXCLUDED.entities;
END
$$;
CREATE FUNCTION aisoc_alert_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM aisoc_alert_search_put(NEW);
  RETURN NULL;
END
$$;
CREATE TRIGGER alerts_search AFTER INSERT OR UPDATE ON alerts
  FOR EACH ROW EXECUTE FUNCTION aisoc_alert_search();

-- The alerts stored before this migration (read, not rewritten: an update would leave a dead copy of each).
SELECT aisoc_alert_search_put(a) FROM alerts AS a;

CREATE INDEX alert_search_priority_idx ON alert_search (priority DESC, last_seen DESC);
CREATE INDEX alert_search_last_seen_idx ON alert_search (last_seen DESC);
CREATE INDEX alert_search_source_idx ON alert_search (source);
CREATE INDEX alert_search_title_idx ON alert_search (title_id);
CREATE INDEX alert_search_techniques_idx ON alert_search USING gin (techniques);
CREATE INDEX alert_search_entity_values_idx ON alert_search USING gin (entity_values);
CREATE INDEX alert_search_rule_ids_idx ON alert_search USING gin (rule_ids);

-- GET /stream reads what changed after a cursor (updated_at, id), in both tables.
CREATE INDEX alerts_updated_idx ON alerts (updated_at, id);
CREATE INDEX incidents_updated_idx ON incidents (updated_at, id);
`,
  },
  {
    version: 10,
    name: 'cloud_baselines',
    sql: `
-- Noise control (docs/noise.md): per identity, the APIs, regions and user-agent families of its cloud calls, when
-- first and last seen (event time) and how often. Written only by the correlate stage, in the transaction of the
-- batch that observed them and under its lock, so every worker reads and grows one baseline. The row
-- ('', 'baseline', '') marks when the baselines began (the learning window runs from it).
CREATE TABLE cloud_baselines (
  identity   text NOT NULL,
  dim        text NOT NULL,
  value      text NOT NULL,
  first_seen timestamptz NOT NULL,
  last_seen  timestamptz NOT NULL,
  calls      bigint NOT NULL,
  PRIMARY KEY (identity, dim, value)
);
CREATE INDEX cloud_baselines_last_seen_idx ON cloud_baselines (last_seen);
`,
  },
  {
    version: 11,
    name: 'events_inline_rows',
    sql: '',
    pglite: `
-- On the embedded engine an event's row stays whole and uncompressed up to a page (EVENT_TOAST_TARGET in
-- src/store/repos/event-partitions.ts, which new partitions are made with): compressing a 2-8 KiB row (pglz) and
-- moving it to the TOAST table was a sixth of an insert's work (docs/ARCHITECTURE.md, Storage). The rows stored
-- before keep their form; PostgreSQL servers keep their defaults.
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass
  LOOP
    EXECUTE format('ALTER TABLE %I SET (toast_tuple_target = 8160)', t);
  END LOOP;
END
$$;
`,
  },
];

/**
 * Apply every migration not yet applied, in order, in one transaction;
 * `upTo` stops before the later versions (tests make an older schema).
 */
export async function migrate(db: SqlClient, options: { upTo?: number } = {}): Promise<number[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: number[] = [];
  await db.transaction(async (tx) => {
    // Several processes may start at once against one PostgreSQL server.
    if (db.engine === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(7342001)');
    const done = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version) || m.version > (options.upTo ?? Number.POSITIVE_INFINITY)) continue;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      if (m.pglite && db.engine === 'pglite')
        for (const statement of splitStatements(m.pglite)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
  });
  return applied;
}

/** Split a migration into statements, keeping `$$ … $$` function bodies whole. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let inDollar = false;
  for (const line of sql.split('\n')) {
    const trimmed = line.trim();
    if (!inDollar && (trimmed.startsWith('--') || trimmed === '')) continue;
    current += `${line}\n`;
    const dollars = (line.match(/\$\$/g) ?? []).length;
    if (dollars % 2 === 1) inDollar = !inDollar;
    if (!inDollar && trimmed.endsWith(';')) {
      out.push(current.trim());
      current = '';
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

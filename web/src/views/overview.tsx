import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useSearch } from '@tanstack/react-router';
import { errorText } from '../components/detail-parts.tsx';
import { SeverityChart, type SeverityPoint } from '../components/severity-chart.tsx';
import { Time } from '../components/time.tsx';
import { searchFromFilters } from '../lib/alert-filters.ts';
import { api } from '../lib/api.ts';
import { paths } from '../lib/links.ts';
import '../components/widgets.css';
import './overview.css';

/** `GET /stats/overview` (issue 14 contract, route 8). */
export interface OverviewStats {
  from: string;
  to: string;
  bucket_s: number;
  events_per_source: Array<{ source: string; count: number; per_s: number }>;
  alerts_over_time: SeverityPoint[];
  incidents_open_by_priority: Array<{
    band: 'critical' | 'high' | 'medium' | 'low';
    min: number;
    max: number;
    count: number;
  }>;
  pipeline: { pending: number; capacity: number; dead_letters_total: number; rejected_total: number };
  top_rules: Array<{ rule_id: string; title: string; count: number }>;
  top_entities: Array<{ type: string; value: string; count: number }>;
}

/** The ranges on offer, with a bucket that keeps each chart at or under 96 bars. */
export const RANGES = {
  '1h': { label: 'Last hour', ms: 3_600_000, bucket_s: 60 },
  '24h': { label: 'Last 24 hours', ms: 86_400_000, bucket_s: 900 },
  '7d': { label: 'Last 7 days', ms: 7 * 86_400_000, bucket_s: 7_200 },
} as const;
export type RangeKey = keyof typeof RANGES;

const num = new Intl.NumberFormat();
const rate = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export default function Overview() {
  const search = useSearch({ strict: false }) as Record<string, unknown>;
  const range: RangeKey = search.range === '1h' || search.range === '7d' ? search.range : '24h';
  const navigate = useNavigate();
  const q = useQuery({
    queryKey: ['overview', range],
    queryFn: ({ signal }) => {
      // The window ends now at every refetch, so the charts move with time.
      const to = Date.now();
      const r = RANGES[range];
      return api<OverviewStats>('/stats/overview', {
        query: {
          from: new Date(to - r.ms).toISOString(),
          to: new Date(to).toISOString(),
          bucket_s: r.bucket_s,
        },
        signal,
      });
    },
    refetchInterval: 15_000,
    placeholderData: keepPreviousData,
  });
  const s = q.data;

  return (
    <div className="overview">
      <div className="overview-head">
        <h1>Overview</h1>
        <fieldset className="range">
          <legend className="visually-hidden">Time range</legend>
          {(Object.keys(RANGES) as RangeKey[]).map((k) => (
            <label key={k} className={k === range ? 'on' : undefined}>
              <input
                type="radio"
                name="range"
                value={k}
                checked={k === range}
                onChange={() =>
                  void navigate({
                    to: paths.overview,
                    search: k === '24h' ? {} : { range: k },
                    replace: true,
                  })
                }
              />
              <span aria-hidden="true">{k}</span>
              <span className="visually-hidden">{RANGES[k].label}</span>
            </label>
          ))}
        </fieldset>
        <p className="muted updated" aria-live="polite">
          {q.isFetching ? (
            'Updating…'
          ) : s ? (
            <>
              Updated <Time iso={new Date(q.dataUpdatedAt).toISOString()} />
            </>
          ) : (
            ''
          )}
          <span className="hide-narrow"> · refreshes every 15 s</span>
        </p>
      </div>
      {q.error && (
        <p role="alert" className="error">
          The overview could not be loaded: {errorText(q.error)}
        </p>
      )}
      {!s && !q.error && <p className="loading">Loading…</p>}
      {s && (
        <div className="overview-grid">
          <section className="panel wide" aria-labelledby="ov-alerts">
            <h2 id="ov-alerts">Alerts by severity</h2>
            <SeverityChart
              points={s.alerts_over_time}
              label={`Alerts per severity, ${RANGES[range].label.toLowerCase()}, in ${bucketText(s.bucket_s)} intervals`}
            />
          </section>

          <section className="panel" aria-labelledby="ov-sources">
            <h2 id="ov-sources">Events per source</h2>
            <SourcesTable rows={s.events_per_source} />
          </section>

          <section className="panel" aria-labelledby="ov-incidents">
            <h2 id="ov-incidents">Open incidents by priority</h2>
            <table className="compact">
              <thead>
                <tr>
                  <th scope="col">Band</th>
                  <th scope="col">Priority</th>
                  <th scope="col" className="num">
                    Incidents
                  </th>
                </tr>
              </thead>
              <tbody>
                {s.incidents_open_by_priority.map((b) => (
                  <tr key={b.band}>
                    <th scope="row" className={`prio-${b.band}`}>
                      {b.band}
                    </th>
                    <td>
                      {b.min}–{b.max}
                    </td>
                    <td className="num">{num.format(b.count)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p>
              <Link to={paths.incidents}>All incidents</Link>
            </p>
          </section>

          <section className="panel" aria-labelledby="ov-pipeline">
            <h2 id="ov-pipeline">Pipeline</h2>
            <Pipeline p={s.pipeline} />
          </section>

          <section className="panel" aria-labelledby="ov-rules">
            <h2 id="ov-rules">Top rules</h2>
            <TopTable
              head={['Rule', 'Alerts']}
              rows={s.top_rules.map((r) => ({
                key: r.rule_id,
                label: r.title || r.rule_id,
                search: searchFromFilters({ rule: r.rule_id }),
                count: r.count,
              }))}
            />
          </section>

          <section className="panel" aria-labelledby="ov-entities">
            <h2 id="ov-entities">Top entities</h2>
            <TopTable
              head={['Entity', 'Alerts']}
              rows={s.top_entities.map((e) => ({
                key: `${e.type}:${e.value}`,
                label: e.value,
                note: e.type,
                search: searchFromFilters({ entity: e.value }),
                count: e.count,
              }))}
            />
          </section>
        </div>
      )}
    </div>
  );
}

function bucketText(s: number): string {
  return s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}

function SourcesTable({ rows }: { rows: OverviewStats['events_per_source'] }) {
  if (!rows.length) return <p className="muted">No events in this range.</p>;
  const max = Math.max(...rows.map((r) => r.per_s), Number.MIN_VALUE);
  return (
    <table className="compact">
      <thead>
        <tr>
          <th scope="col">Source</th>
          <th scope="col" className="num">
            Events
          </th>
          <th scope="col" className="num">
            per second
          </th>
        </tr>
      </thead>
      <tbody>
        {[...rows]
          .sort((a, b) => b.per_s - a.per_s)
          .map((r) => (
            <tr key={r.source}>
              <th scope="row" className="wrap">
                {r.source}
                <span className="bar" aria-hidden="true" style={{ width: `${(r.per_s / max) * 100}%` }} />
              </th>
              <td className="num">{num.format(r.count)}</td>
              <td className="num">{rate.format(r.per_s)}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}

function Pipeline({ p }: { p: OverviewStats['pipeline'] }) {
  const fill = p.capacity > 0 ? p.pending / p.capacity : 0;
  return (
    <dl className="facts">
      <dt>Backlog</dt>
      <dd>
        {num.format(p.pending)} of {num.format(p.capacity)}{' '}
        <meter
          min={0}
          max={Math.max(1, p.capacity)}
          low={p.capacity * 0.5}
          high={p.capacity * 0.8}
          optimum={0}
          value={p.pending}
          aria-label={`Backlog ${Math.round(fill * 100)}% of capacity`}
        />
      </dd>
      <dt>Refused (429)</dt>
      <dd>{num.format(p.rejected_total)} since start</dd>
      <dt>Dead letters</dt>
      <dd>
        {num.format(p.dead_letters_total)} <Link to={paths.rules}>sources and dead letters</Link>
      </dd>
    </dl>
  );
}

function TopTable({
  head,
  rows,
}: {
  head: [string, string];
  rows: Array<{ key: string; label: string; note?: string; search: Record<string, string>; count: number }>;
}) {
  if (!rows.length) return <p className="muted">None in this range.</p>;
  return (
    <table className="compact">
      <thead>
        <tr>
          <th scope="col">{head[0]}</th>
          <th scope="col" className="num">
            {head[1]}
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key}>
            <td className="wrap">
              {r.note && <span className="entity-type">{r.note} </span>}
              <Link to={paths.alerts} search={r.search}>
                {r.label}
              </Link>
            </td>
            <td className="num">{num.format(r.count)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

import { Link } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { ApiError } from '../lib/api.ts';
import { paths } from '../lib/links.ts';
import type { NormalisedEvent } from '../lib/types.ts';
import { Time } from './time.tsx';
import './widgets.css';

/** Pieces the alert and incident pages share. */

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  return e instanceof Error ? e.message : 'The request failed.';
}

export function EventsTable({
  events,
  onShow,
}: {
  events: readonly NormalisedEvent[];
  onShow(e: NormalisedEvent): void;
}) {
  if (!events.length) return <p className="muted">No events.</p>;
  return (
    <div className="table-scroll">
      <table className="compact">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">What</th>
            <th scope="col" className="hide-narrow">
              Who
            </th>
            <th scope="col" className="hide-narrow">
              Message
            </th>
            <th scope="col">JSON</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>
                <Time iso={e.time} />
              </td>
              <td className="wrap">
                {e.activity_name ?? e.class_name} <span className="muted">{e.source}</span>
              </td>
              <td className="wrap hide-narrow">
                {e.actor?.user?.name ?? e.src_endpoint?.ip ?? <span className="muted">—</span>}
              </td>
              <td className="wrap hide-narrow">{e.message?.slice(0, 300)}</td>
              <td>
                <button type="button" className="secondary small" onClick={() => onShow(e)}>
                  Show<span className="visually-hidden"> event {e.id.slice(0, 8)} as JSON</span>
                </button>{' '}
                <Link to={paths.event(e.id)}>
                  open<span className="visually-hidden"> event {e.id.slice(0, 8)}</span>
                </Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Timeline({ items }: { items: ReadonlyArray<{ at: string; what: ReactNode; key?: string }> }) {
  if (!items.length) return <p className="muted">Nothing yet.</p>;
  return (
    <ol className="timeline">
      {items.map((t, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: entries may share a time and text; the list is rebuilt whole
        <li key={i}>
          <Time iso={t.at} /> <span>{t.what}</span>
        </li>
      ))}
    </ol>
  );
}

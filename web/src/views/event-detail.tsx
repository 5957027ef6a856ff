import { useQuery } from '@tanstack/react-query';
import { ErrorNote } from '../components/b-error.tsx';
import { JsonView, splitFields } from '../components/b-json.tsx';
import { useIdParam, useSearchParams, ViewLink } from '../components/b-link.tsx';
import { Time } from '../components/b-time.tsx';
import { api } from '../lib/api.ts';
import type { NormalisedEvent } from '../lib/types.ts';

/** At most this many cited fields are highlighted: a link is data, and a long list helps nobody. */
const MAX_FIELDS = 50;

/**
 * One event as the server stores it, pretty-printed. `?fields=a.b,c` (the alert detail links here with the
 * fields a verdict cites) highlights those paths and says which of them the event does not have.
 */
export default function EventDetail() {
  const id = useIdParam();
  const search = useSearchParams();
  const fields = (search.fields ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .slice(0, MAX_FIELDS);
  const event = useQuery({
    queryKey: ['event', id],
    queryFn: ({ signal }) => api<NormalisedEvent>(`/events/${encodeURIComponent(id)}`, { signal }),
  });
  const { found, missing } = event.data ? splitFields(event.data, fields) : { found: [], missing: [] };

  return (
    <article aria-labelledby="event-h">
      <p className="muted">
        <ViewLink to="/events">Events</ViewLink> /
      </p>
      <h1 id="event-h" className="b-wrap">
        {event.data ? (event.data.activity_name ?? event.data.class_name) : 'Event'}
      </h1>
      <ErrorNote error={event.error} />
      {event.isPending && <p className="loading">Loading the event…</p>}
      {event.data && (
        <>
          <p className="muted b-wrap">
            {event.data.source} · <Time iso={event.data.time} /> · <code>{event.data.id}</code>
            {event.data.truncated ? ' · cut to size at ingestion' : ''}
          </p>
          {fields.length > 0 && (
            <section aria-labelledby="event-cited">
              <h2 id="event-cited">Cited fields</h2>
              {found.length > 0 && (
                <p>
                  Highlighted:{' '}
                  {found.map((f) => (
                    <code key={f} className="b-tag">
                      {f}
                    </code>
                  ))}
                </p>
              )}
              {missing.length > 0 && (
                <p className="error">
                  Not in this event:{' '}
                  {missing.map((f) => (
                    <code key={f} className="b-tag">
                      {f}
                    </code>
                  ))}
                </p>
              )}
            </section>
          )}
          <h2>Raw event</h2>
          <JsonView value={event.data} highlight={found} label="The event as JSON" />
        </>
      )}
    </article>
  );
}

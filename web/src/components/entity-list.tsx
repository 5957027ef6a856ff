import './widgets.css';
import { Link } from '@tanstack/react-router';
import { searchFromFilters } from '../lib/alert-filters.ts';
import { paths } from '../lib/links.ts';
import type { Entity } from '../lib/types.ts';

/** Entities as links to the alert queue filtered on each (a pivot), or as plain text in a dense row. */
export function EntityList({
  entities,
  links = true,
  max,
}: {
  entities: readonly Entity[];
  links?: boolean;
  max?: number;
}) {
  if (!entities.length) return <span className="muted">None</span>;
  const shown = max ? entities.slice(0, max) : entities;
  return (
    <ul className="inline-list entities">
      {shown.map((e) => (
        <li key={`${e.type}:${e.value}`}>
          <span className="entity-type">{e.type}</span>{' '}
          {links ? (
            <Link to={paths.alerts} search={searchFromFilters({ entity: e.value })}>
              {e.value}
            </Link>
          ) : (
            <span className="entity-value">{e.value}</span>
          )}
        </li>
      ))}
      {max && entities.length > max && <li className="muted">+{entities.length - max}</li>}
    </ul>
  );
}

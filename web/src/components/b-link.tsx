import { Link, useLocation, useNavigate, useParams } from '@tanstack/react-router';
import type { ReactNode } from 'react';

/**
 * router.tsx builds its routes through a helper that takes `path: string`, so the registered route tree
 * knows no literal paths and TanStack's typed `<Link to="/cases/$id">` does not type-check. Until the
 * helper keeps the literal types, views link with a concrete path through here (one cast, in one place).
 */
export function ViewLink({
  to,
  children,
  className,
  'aria-label': ariaLabel,
}: {
  to: string;
  children: ReactNode;
  className?: string;
  'aria-label'?: string;
}) {
  return (
    <Link to={to as '/'} className={className} aria-label={ariaLabel}>
      {children}
    </Link>
  );
}

/** `/cases/abc` for a route and an id, the id encoded as one path segment. */
export const pathTo = (base: string, id: string) => `${base}/${encodeURIComponent(id)}`;

/** The `$id` of the current route (the same untyped-tree limitation as {@link ViewLink}). */
export function useIdParam(): string {
  const params = useParams({ strict: false }) as { id?: string };
  return params.id ?? '';
}

/**
 * The current route's search parameters as strings. TanStack JSON-parses each value (`1` becomes a number,
 * `"a phrase"` loses its quotes if read back from the URL text), so they are read from its parsed object
 * and turned back into text: what {@link useSetSearch} wrote comes back unchanged.
 */
export function useSearchParams(): Record<string, string> {
  const search = useLocation({ select: (l) => l.search }) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(search ?? {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) out[k] = v.map(String).join(',');
    else if (typeof v === 'object') continue;
    else out[k] = String(v);
  }
  return out;
}

/** Replaces the current route's search parameters (empty values left out), keeping the path. */
export function useSetSearch(): (
  search: Record<string, string | number | undefined>,
  push?: boolean,
) => void {
  const navigate = useNavigate();
  return (search, push = false) => {
    const clean: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(search)) if (v !== undefined && v !== '') clean[k] = v;
    // The untyped route tree (see ViewLink) types `search` as nothing at all: the cast is that limitation.
    void navigate({ to: '.', search: clean as never, replace: !push });
  };
}

import { Link, useLocation, useParams } from '@tanstack/react-router';
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

/** The current hash route's query string parsed as plain strings (TanStack would JSON-parse `1` to a number). */
export function useSearchParams(): URLSearchParams {
  const searchStr = useLocation({ select: (l) => l.searchStr });
  return new URLSearchParams(searchStr);
}

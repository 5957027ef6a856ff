import {
  createHashHistory,
  createRootRoute,
  createRoute,
  createRouter,
  lazyRouteComponent,
} from '@tanstack/react-router';
import { Shell } from './components/shell.tsx';

/**
 * Routes live in the URL hash (`/#/alerts/…`): the server serves one page at `/`, and no console path can
 * collide with an API path. Views load on demand, so the first view ships only what it needs.
 */
const rootRoute = createRootRoute({ component: Shell });

// Generic in the path, so each route keeps its literal path and typed links (`/cases/$id`) check.
const route = <P extends string>(path: P, load: () => Promise<{ default: React.ComponentType }>) =>
  createRoute({ getParentRoute: () => rootRoute, path, component: lazyRouteComponent(load) });

export const routeTree = rootRoute.addChildren([
  route('/', () => import('./views/overview.tsx')),
  route('/alerts', () => import('./views/alerts.tsx')),
  route('/alerts/$id', () => import('./views/alert-detail.tsx')),
  route('/incidents', () => import('./views/incidents.tsx')),
  route('/incidents/$id', () => import('./views/incident-detail.tsx')),
  route('/cases', () => import('./views/cases.tsx')),
  route('/cases/$id', () => import('./views/case-detail.tsx')),
  route('/approvals', () => import('./views/approvals.tsx')),
  route('/coverage', () => import('./views/coverage.tsx')),
  route('/events', () => import('./views/events.tsx')),
  route('/events/$id', () => import('./views/event-detail.tsx')),
  route('/rules', () => import('./views/rules.tsx')),
  route('/audit', () => import('./views/audit.tsx')),
]);

export function makeRouter() {
  return createRouter({ routeTree, history: createHashHistory(), defaultPreload: 'intent' });
}

declare module '@tanstack/react-router' {
  interface Register {
    router: ReturnType<typeof makeRouter>;
  }
}

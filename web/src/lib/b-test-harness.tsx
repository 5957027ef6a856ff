/**
 * Test harness of the issue-14 views: a fake API at the network boundary (fetch), and a view rendered in a
 * memory-history router with a real AuthProvider that learns the key's scopes from GET /whoami. The views,
 * the api() client, React Query and the router are the real ones; only the server is played by the test.
 */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import {
  createMemoryHistory,
  createRootRoute,
  createRoute,
  createRouter,
  Outlet,
  RouterProvider,
} from '@tanstack/react-router';
import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { vi } from 'vitest';
import { keyStore } from './api.ts';
import { AuthProvider, type Scope, useAuth } from './auth.tsx';

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

// Any JSON body; `reply(status, body)` for an error answer.
type Reply = object;
type Handler = (call: Call, params: Record<string, string>) => Reply | Promise<Reply>;

export interface FakeApi {
  calls: Call[];
  on(route: string, handler: Handler | Reply): FakeApi;
  /** The calls to `METHOD /path` (exact path), in order. */
  to(method: string, path: string): Call[];
}

/** `{status, body}` as an error answer; anything else is a 200 JSON body. */
export const reply = (status: number, body: unknown) => ({ status, body });

function matches(pattern: string, path: string): Record<string, string> | null {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const seg = a[i]!;
    if (seg.startsWith(':')) params[seg.slice(1)] = decodeURIComponent(b[i]!);
    else if (seg !== b[i]) return null;
  }
  return params;
}

/** Stubs `fetch` with routes such as `GET /cases/:id`; an unknown route answers 404 like the server does. */
export function fakeApi(scopes: Scope[] = ['read']): FakeApi {
  const routes: Array<{ method: string; pattern: string; handler: Handler | Reply }> = [];
  const calls: Call[] = [];
  const api: FakeApi = {
    calls,
    on(route, handler) {
      const [method, pattern] = route.split(' ') as [string, string];
      routes.unshift({ method, pattern, handler });
      return api;
    },
    to(method, path) {
      return calls.filter((c) => c.method === method && c.path === path);
    },
  };
  api.on('GET /whoami', { name: 'tester', scopes });
  keyStore.set('test-key');
  vi.stubGlobal('fetch', async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, 'http://console.test');
    const method = init.method ?? 'GET';
    const call: Call = {
      method,
      path: url.pathname,
      query: url.searchParams,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    for (const r of routes) {
      if (r.method !== method) continue;
      const params = matches(r.pattern, url.pathname);
      if (!params) continue;
      const out = typeof r.handler === 'function' ? await r.handler(call, params) : r.handler;
      const isError =
        out && typeof out === 'object' && !Array.isArray(out) && 'status' in out && 'body' in out;
      const status = isError ? (out as { status: number }).status : 200;
      const body = isError ? (out as { body: unknown }).body : out;
      return new Response(JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json' },
      });
    }
    return new Response(JSON.stringify({ code: 'AISOC_ERR_NOT_FOUND', message: `No route ${method}` }), {
      status: 404,
    });
  });
  return api;
}

function Ready({ children }: { children: ReactNode }) {
  const { identity } = useAuth();
  return identity ? children : <p>Checking your key…</p>;
}

/**
 * Renders `component` at `path` (e.g. `/cases/abc?x=1`) under a route `pattern` (e.g. `/cases/$id`).
 * Other paths the view links to resolve to an empty page.
 */
export function renderView(component: () => ReactNode, pattern: string, path: string) {
  // As in the shell: every view renders inside <main>.
  const root = createRootRoute({
    component: () => (
      <main id="main">
        <Outlet />
      </main>
    ),
  });
  const tree = root.addChildren([
    createRoute({ getParentRoute: () => root, path: pattern, component }),
    createRoute({ getParentRoute: () => root, path: '$', component: () => <p>elsewhere</p> }),
  ]);
  const router = createRouter({ routeTree: tree, history: createMemoryHistory({ initialEntries: [path] }) });
  const client = new QueryClient({
    defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
  });
  return render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <Ready>
          <RouterProvider router={router} />
        </Ready>
      </AuthProvider>
    </QueryClientProvider>,
  );
}

/**
 * Test harness for the console's views: the real route tree and providers, with `fetch` stubbed at the network
 * boundary by a small fake API, and the layout numbers happy-dom does not compute (it has no layout engine).
 */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createMemoryHistory, createRouter, RouterProvider } from '@tanstack/react-router';
import { configure, render } from '@testing-library/react';
import { vi } from 'vitest';
import { keyStore } from '../lib/api.ts';
import { AuthProvider, type Identity, useAuth } from '../lib/auth.tsx';
import { routeTree } from '../router.tsx';

export const TEST_KEY = 'aisoc_test_key_never_in_urls';

// The first render of a view loads its module (lazy route) and transforms it, which on a loaded machine takes
// longer than testing-library's 1 s default: waits are on conditions, so a long ceiling costs nothing.
configure({ asyncUtilTimeout: 20_000 });

export interface FakeCall {
  method: string;
  path: string;
  query: URLSearchParams;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

export type Handler = (call: FakeCall, params: Record<string, string>) => unknown;

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/**
 * Serves `routes` (keys like `GET /alerts/:id`; a handler returns a body to send as JSON with 200, or a
 * Response). `/whoami` answers `identity`; `/stream` stays open and sends what {@link FakeApi.push} pushes.
 */
export function fakeApi(routes: Record<string, Handler>, identity: Identity) {
  const calls: FakeCall[] = [];
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const table = Object.entries(routes).map(([k, h]) => {
    const [method, pattern] = k.split(' ') as [string, string];
    const names: string[] = [];
    const re = new RegExp(
      `^${pattern.replace(/:([a-z_]+)/g, (_m, n: string) => {
        names.push(n);
        return '([^/]+)';
      })}$`,
    );
    return { method, re, names, h };
  });
  vi.stubGlobal('fetch', async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, 'http://console.test');
    const call: FakeCall = {
      method: init.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      url: input,
      headers: (init.headers ?? {}) as Record<string, string>,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    if (call.path === '/whoami') return json(identity);
    if (call.path === '/stream') {
      let ctl!: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          ctl = c;
          streams.add(c);
        },
      });
      init.signal?.addEventListener('abort', () => {
        streams.delete(ctl);
        ctl.error(new DOMException('aborted', 'AbortError'));
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }
    for (const r of table) {
      const m = r.method === call.method ? r.re.exec(call.path) : null;
      if (!m) continue;
      const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1] ?? '')]));
      const out = await r.h(call, params);
      return out instanceof Response ? out : json(out);
    }
    return json({ code: 'AISOC_ERR_NOT_FOUND', message: `no fake for ${call.method} ${call.path}` }, 404);
  });
  return {
    calls,
    /** Calls other than the sign-in check and the stream. */
    apiCalls: () => calls.filter((c) => c.path !== '/whoami' && c.path !== '/stream'),
    streamCount: () => streams.size,
    push(event: string, data: unknown, id: string) {
      const bytes = new TextEncoder().encode(`event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
      for (const c of streams) c.enqueue(bytes);
    },
  };
}

/** happy-dom lays nothing out: give scroll containers a viewport so the virtualiser renders rows. */
export function fakeLayout(width = 1200, height = 600) {
  const proto = HTMLElement.prototype;
  const saved = ['clientHeight', 'clientWidth'].map(
    (k) => [k, Object.getOwnPropertyDescriptor(proto, k)] as const,
  );
  Object.defineProperty(proto, 'clientHeight', { configurable: true, get: () => height });
  Object.defineProperty(proto, 'clientWidth', { configurable: true, get: () => width });
  // A browser tells a scroll by a `scroll` event; happy-dom only sets scrollTop, which leaves the virtualiser
  // waiting for its scroll to land.
  const scrollTo = Element.prototype.scrollTo;
  Element.prototype.scrollTo = function (this: Element, ...args: Parameters<Element['scrollTo']>) {
    scrollTo.apply(this, args);
    setTimeout(() => this.dispatchEvent(new Event('scroll')));
  } as Element['scrollTo'];
  return () => {
    Element.prototype.scrollTo = scrollTo;
    for (const [k, d] of saved) {
      if (d) Object.defineProperty(proto, k, d);
      else delete (proto as unknown as Record<string, unknown>)[k];
    }
  };
}

function Gate({ router }: { router: ReturnType<typeof makeTestRouter> }) {
  const { identity } = useAuth();
  return identity ? <RouterProvider router={router} /> : <p>signing in</p>;
}

function makeTestRouter(path: string) {
  return createRouter({ routeTree, history: createMemoryHistory({ initialEntries: [path] }) });
}

/** Renders the console at `path` (e.g. `/alerts?severity=high`) signed in with the test key. */
export function renderRoute(path: string) {
  keyStore.set(TEST_KEY);
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false, gcTime: Number.POSITIVE_INFINITY } },
  });
  const router = makeTestRouter(path);
  const view = render(
    <QueryClientProvider client={queryClient}>
      <AuthProvider>
        <Gate router={router} />
      </AuthProvider>
    </QueryClientProvider>,
  );
  return { ...view, router, queryClient };
}

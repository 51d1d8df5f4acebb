// Renders a page with what the app gives it (query client, router, toasts)
// against a fake api: `routes` maps "METHOD /path" (no /api/v1 prefix, no
// query string) to a JSON body, to [status, body], or to a function of the
// request body returning either (for an api with state).
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { MemoryRouter } from 'react-router';
import { vi } from 'vitest';
import type { Session } from '../api/types';
import { SessionProvider } from '../auth/session';
import { ToastProvider } from '../components/toast';

export type FakeRoutes = Record<string, unknown>;

export function fakeApi(routes: FakeRoutes) {
  const calls: string[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://test');
    const key = `${init?.method ?? 'GET'} ${url.pathname.replace(/^\/api\/v1/, '')}`;
    calls.push(key);
    const route = routes[key];
    const sent: unknown = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const answer: unknown = typeof route === 'function' ? (route as (body: unknown) => unknown)(sent) : route;
    const [status, body] = Array.isArray(answer) && typeof answer[0] === 'number' ? (answer as [number, unknown]) : [answer === undefined ? 404 : 200, answer];
    const payload = answer === undefined ? { error: { code: 'no_route', message: `no route for ${key}`, details: null } } : body;
    if (status === 204 || status === 202) return new Response(null, { status });
    return new Response(JSON.stringify(payload), { status, headers: { 'Content-Type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetchMock);
  return { calls, fetchMock };
}

/** `session` as the auth gate would provide it; none by default (everything allowed). */
export function renderPage(ui: ReactNode, path = '/', session: Session | null = null) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <ToastProvider>
        <SessionProvider session={session}>
          <MemoryRouter initialEntries={[path]}>{ui}</MemoryRouter>
        </SessionProvider>
      </ToastProvider>
    </QueryClientProvider>,
  );
}

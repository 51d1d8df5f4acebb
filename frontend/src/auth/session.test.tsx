// The auth gate end to end in the page: boot without a session, sign in
// (wrong, then right token), a later 401 anywhere, a 403, sign out, and an
// api with auth disabled.
import { QueryClientProvider, useMutation, useQuery } from '@tanstack/react-query';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Outlet, createMemoryRouter, RouterProvider } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { get, post, setAuthHooks } from '../api/client';
import { makeQueryClient } from '../api/queryClient';
import type { Session } from '../api/types';
import { SessionBar } from '../components/SessionBar';
import { ToastProvider, useToast } from '../components/toast';
import { Button } from '../components/ui';
import { LoginPage, WRONG_TOKEN } from '../pages/login/LoginPage';
import { fakeApi } from '../test/render';
import { installAuth, RequireSession } from './session';

afterEach(() => {
  setAuthHooks(null);
  vi.unstubAllGlobals();
});

const unauthorized = [401, { error: { code: 'unauthorized', message: 'not signed in', details: null } }];
const forbidden = [403, { error: { code: 'forbidden', message: 'needs admin', details: null } }];

/** A page that reads (GET /jobs) and acts (a cancel, which needs admin). */
function Probe() {
  const jobs = useQuery({ queryKey: ['conveyor', 'probe'], queryFn: () => get<{ jobs: unknown[] }>('/jobs') });
  const toast = useToast();
  const cancel = useMutation({
    mutationFn: () => post('/jobs/j1/cancel'),
    // As the pages do: their own toast of the error's message.
    onError: (e) => toast('error', e.message),
  });
  return (
    <div>
      <p>{jobs.data ? `jobs: ${jobs.data.jobs.length}` : 'loading jobs'}</p>
      <button type="button" onClick={() => void jobs.refetch()}>
        reload
      </button>
      <button type="button" onClick={() => cancel.mutate()}>
        try cancel
      </button>
      <Button need="admin" data-testid="admin-only">
        Delete all
      </Button>
    </div>
  );
}

function renderApp(path: string) {
  const client = makeQueryClient();
  installAuth(client);
  const router = createMemoryRouter(
    [
      { path: '/login', element: <LoginPage /> },
      {
        element: <RequireSession />,
        children: [
          {
            element: (
              <>
                <SessionBar />
                <Outlet />
              </>
            ),
            children: [
              { path: '/', element: <p>overview</p> },
              { path: '/jobs', element: <Probe /> },
            ],
          },
        ],
      },
    ],
    { initialEntries: [path] },
  );
  render(
    <QueryClientProvider client={client}>
      <ToastProvider>
        <RouterProvider router={router} />
      </ToastProvider>
    </QueryClientProvider>,
  );
  return { router, client };
}

function fakeAuthApi(session: Session, token = 'cvr_right') {
  const state = { signedIn: false };
  const api = fakeApi({
    'GET /session': () => (state.signedIn ? session : unauthorized),
    'POST /session': (body: unknown) => {
      if ((body as { token: string }).token !== token) return unauthorized;
      state.signedIn = true;
      return session;
    },
    'DELETE /session': () => {
      state.signedIn = false;
      return [204, null];
    },
    'GET /jobs': () => (state.signedIn ? { jobs: [1, 2] } : unauthorized),
    'POST /jobs/j1/cancel': forbidden,
  });
  return { ...api, state };
}

const reader: Session = { auth: 'cookie', name: 'ops-laptop', scope: 'read' };

describe('the auth gate', () => {
  it('sends a browser without a session to sign in, rejects a wrong token, and returns to the page', async () => {
    const { calls } = fakeAuthApi(reader);
    const { router } = renderApp('/jobs?status=dead');
    const user = userEvent.setup();

    await screen.findByRole('heading', { name: 'Sign in' });
    expect(router.state.location.pathname).toBe('/login');
    expect(new URLSearchParams(router.state.location.search).get('next')).toBe('/jobs?status=dead');
    expect(calls).not.toContain('GET /jobs');

    const field = screen.getByLabelText('Api token');
    expect(field).toHaveAttribute('type', 'password');
    await user.type(field, 'cvr_wrong');
    await user.click(screen.getByTestId('sign-in'));
    expect(await screen.findByTestId('login-error')).toHaveTextContent(WRONG_TOKEN);
    expect(router.state.location.pathname).toBe('/login');

    await user.clear(field);
    await user.type(field, 'cvr_right');
    await user.click(screen.getByTestId('sign-in'));
    expect(await screen.findByText('jobs: 2')).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/jobs');
    expect(router.state.location.search).toBe('?status=dead');
    expect(screen.getByTestId('session-name')).toHaveTextContent('ops-laptop');
    expect(screen.getByTestId('session-scope')).toHaveTextContent('read');
  });

  it('goes back to sign-in when any later call gets 401 (a revoked token)', async () => {
    const { state } = fakeAuthApi(reader);
    state.signedIn = true;
    const { router } = renderApp('/jobs');
    const user = userEvent.setup();
    await screen.findByText('jobs: 2');

    state.signedIn = false; // revoked, or the session expired
    await user.click(screen.getByText('reload'));
    await screen.findByRole('heading', { name: 'Sign in' });
    expect(router.state.location.pathname).toBe('/login');
    expect(new URLSearchParams(router.state.location.search).get('next')).toBe('/jobs');
  });

  it('says once that the scope does not allow an action, and disables admin buttons with the reason', async () => {
    const { state } = fakeAuthApi(reader);
    state.signedIn = true;
    renderApp('/jobs');
    const user = userEvent.setup();
    await screen.findByText('jobs: 2');

    const adminOnly = screen.getByTestId('admin-only');
    expect(adminOnly).toBeDisabled();
    expect(adminOnly.closest('[title]')).toHaveAttribute('title', 'Needs the admin scope; your token has read');

    await user.click(screen.getByText('try cancel'));
    await waitFor(() => expect(screen.getAllByTestId('toast')).toHaveLength(1));
    expect(screen.getByTestId('toast')).toHaveTextContent("Your token's scope (read) does not allow this");
  });

  it('signs out', async () => {
    const { state, calls } = fakeAuthApi({ auth: 'cookie', name: 'ops', scope: 'admin' });
    state.signedIn = true;
    const { router } = renderApp('/jobs');
    const user = userEvent.setup();
    await screen.findByText('jobs: 2');
    expect(screen.getByTestId('admin-only')).toBeEnabled();
    await user.click(screen.getByTestId('sign-out'));
    await screen.findByRole('heading', { name: 'Sign in' });
    expect(calls).toContain('DELETE /session');
    expect(router.state.location.pathname).toBe('/login');
  });

  it('lets everyone in when the api has auth disabled, and says so in the header', async () => {
    fakeApi({ 'GET /session': { auth: 'disabled', name: null, scope: 'admin' }, 'GET /jobs': { jobs: [] } });
    const { router } = renderApp('/jobs');
    await screen.findByText('jobs: 0');
    expect(router.state.location.pathname).toBe('/jobs');
    expect(screen.getByTestId('auth-disabled')).toHaveTextContent('auth disabled');
    expect(screen.queryByTestId('sign-out')).not.toBeInTheDocument();
  });

  it('treats an api without /session (older, no access control) as auth disabled', async () => {
    fakeApi({ 'GET /jobs': { jobs: [] } });
    renderApp('/jobs');
    await screen.findByText('jobs: 0');
    expect(screen.getByTestId('auth-disabled')).toBeInTheDocument();
  });

  it('skips the sign-in page when already signed in', async () => {
    const { state } = fakeAuthApi(reader);
    state.signedIn = true;
    const { router } = renderApp('/login?next=%2Fjobs');
    await screen.findByText('jobs: 2');
    expect(router.state.location.pathname).toBe('/jobs');
  });
});

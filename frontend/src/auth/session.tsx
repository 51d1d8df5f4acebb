// The signed-in session: fetched once on boot (GET /session), cleared by any
// 401 of any call (src/api/client.ts calls back here), and the gate that
// sends a browser without one to the sign-in page.
import { QueryClient, useMutation, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Navigate, Outlet, useLocation } from 'react-router';
import { ApiError, setAuthHooks } from '../api/client';
import { api } from '../api/endpoints';
import { keys, useSessionQuery } from '../api/queries';
import type { Session } from '../api/types';
import { ErrorState } from '../components/ui';
import { SessionContext } from './context';
import { loginPath } from './scopes';

export { useCan, useSession } from './context';

/**
 * Wires the api client to the query cache: a 401 from any call but /session
 * clears the session (the gate then shows the sign-in page, and the live
 * feed stops), and a 403 names the session's scope.
 */
export function installAuth(client: QueryClient): () => void {
  setAuthHooks({
    onUnauthorized: () => {
      if (client.getQueryData(keys.session()) !== null) client.setQueryData(keys.session(), null);
    },
    scope: () => client.getQueryData<Session | null>(keys.session())?.scope,
  });
  return () => setAuthHooks(null);
}

/** Provides a session to what is inside, without the gate (tests, stories). */
export function SessionProvider({ session, children }: { session: Session | null; children: ReactNode }) {
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

/** The app's routes behind the gate: the sign-in page until there is a session. */
export function RequireSession() {
  const session = useSessionQuery();
  const location = useLocation();
  if (session.isPending) return <div className="min-h-screen bg-slate-50" aria-busy="true" data-testid="session-loading" />;
  if (session.isError)
    return (
      <div className="mx-auto max-w-xl px-6 py-24">
        <ErrorState error={session.error} onRetry={() => void session.refetch()} />
      </div>
    );
  if (!session.data) return <Navigate to={loginPath(location)} replace />;
  return (
    <SessionContext.Provider value={session.data}>
      <Outlet />
    </SessionContext.Provider>
  );
}

/** Signs out (DELETE /session); the gate then shows the sign-in page. */
export function useSignOut() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async () => {
      try {
        await api.signOut();
      } catch (e) {
        // Already signed out (revoked meanwhile): the same outcome.
        if (!(e instanceof ApiError && e.status === 401)) throw e;
      }
    },
    onSuccess: () => client.setQueryData(keys.session(), null),
  });
}

// Owns the one live connection of the app and connects it to the query cache.
import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { fetchSession, keys, useSessionQuery } from '../api/queries';
import type { StatusEvent } from '../api/types';
import { CacheSync } from './cacheSync';
import { LiveConnection, liveUrl, type LiveState } from './connection';

interface Live {
  connection: LiveConnection;
  sync: CacheSync;
}

const LiveContext = createContext<Live | null>(null);

export function LiveProvider({ children, url }: { children: ReactNode; url?: string }) {
  const client = useQueryClient();
  const [live] = useState<Live>(() => {
    const sync = new CacheSync(client);
    const connection = new LiveConnection(url ?? liveUrl(window.location), {
      onEvents: (events) => sync.push(events),
      onGap: () => sync.gap(Date.now()),
      // The socket was refused: if GET /session says 401, the session is
      // cleared (the gate shows the sign-in page) and the socket waits.
      stillSignedIn: async () => {
        const session = await fetchSession();
        client.setQueryData(keys.session(), session);
        return session !== null;
      },
    });
    return { connection, sync };
  });
  // Connected while signed in (or while the api has auth disabled): a
  // refused socket would only be retried in vain.
  const signedIn = Boolean(useSessionQuery().data);
  useEffect(() => {
    if (signedIn) live.connection.start();
    else live.connection.stop();
  }, [live, signedIn]);
  useEffect(
    () => () => {
      live.connection.stop();
      live.sync.dispose();
    },
    [live],
  );
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

function useLive(): Live {
  const live = useContext(LiveContext);
  if (!live) throw new Error('useLive outside LiveProvider');
  return live;
}

/** The connection state, for the indicator. */
export function useLiveState(): { state: LiveState; reconnectNow: () => void } {
  const { connection } = useLive();
  const state = useSyncExternalStore(connection.subscribe, connection.getState);
  return { state, reconnectNow: connection.reconnectNow };
}

/** The live events seen for one job while the app was open. */
export function useJobLiveLog(jobId: string): readonly StatusEvent[] {
  const { sync } = useLive();
  return useSyncExternalStore(sync.subscribeLogs, () => sync.logOf(jobId));
}

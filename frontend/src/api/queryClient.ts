// The app's QueryClient: retries, freshness, and the one place a 403 of a
// mutation is announced.
import { MutationCache, QueryClient } from '@tanstack/react-query';
import { notify } from '../components/toast';
import { ApiError } from './client';

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    // A 403 is said once, here, in the session's words (src/api/client.ts
    // words it); a page's own error toast of the same text is not repeated.
    // A 401 needs nothing here: the client has cleared the session already.
    mutationCache: new MutationCache({
      onError: (error) => {
        if (error instanceof ApiError && error.status === 403) notify('error', error.message);
      },
    }),
    defaultOptions: {
      queries: {
        // Live events keep the cache fresh; refetch on focus as a safety net.
        staleTime: 5_000,
        // A 4xx will not get better by asking again.
        retry: (failures, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && failures < 2,
      },
    },
  });
}

// The next fire times of a schedule's time, from POST /schedules/preview, as
// the user types: debounced, the previous answer kept while the next loads.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import { keys } from '../api/queries';
import type { PreviewRequest } from '../api/types';
import { useDebounced } from '../lib/useDebounced';
import { fieldMessage } from './jobForm';

export interface PreviewInput {
  timing: 'cron' | 'once';
  cron: string;
  timezone: string;
  /** The one fire as an instant (ISO), for a one-time schedule. */
  runAt: string | null;
}

/** The request for an input, or null when there is nothing to ask about yet. */
export function previewRequest(input: PreviewInput, count = 5): PreviewRequest | null {
  const timezone = input.timezone.trim() || undefined;
  if (input.timing === 'cron') {
    const cron = input.cron.trim();
    return cron ? { cron, timezone, count } : null;
  }
  return input.runAt ? { run_at: input.runAt, timezone } : null;
}

export function usePreview(input: PreviewInput, enabled = true) {
  const request = useDebounced(previewRequest(input), 300);
  const query = useQuery({
    queryKey: [...keys.all, 'preview', request],
    queryFn: ({ signal }) => api.previewSchedule(request as PreviewRequest, { signal }),
    enabled: enabled && request !== null,
    retry: false,
    // "Next" moves with the clock.
    staleTime: 30_000,
    placeholderData: keepPreviousData,
  });
  const error = query.error instanceof ApiError ? query.error : null;
  /** The field the server's 422 names, and its message without the `field: ` prefix. */
  const invalid = error && error.status === 422 && error.field ? { field: error.field, message: fieldMessage(error.field, error.message) } : null;
  const current = JSON.stringify(previewRequest(input)) === JSON.stringify(request);
  return {
    request,
    /** Still typing, or the answer for the latest input is on its way. */
    pending: !current || query.isFetching,
    fires: query.isError ? [] : (query.data?.fires ?? []),
    timezone: query.data?.timezone,
    invalid,
    unavailable: error?.isMissingRoute ?? false,
    failed: query.isError && !invalid ? query.error : null,
  };
}

// Query keys and hooks. Every cached value lives under one of these keys, and
// the live feed (src/live) updates or invalidates exactly these.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { ApiError, isUnavailable } from './client';
import { api, type DeliveryParams, type ListParams } from './endpoints';
import type { DeliveryPage, JobFilter, Session } from './types';

export const keys = {
  /** Outside `all`: refetching everything after a gap or a sign-in leaves it be. */
  session: () => ['session'] as const,
  all: ['conveyor'] as const,
  jobLists: () => [...keys.all, 'jobs'] as const,
  jobList: (params: ListParams) => [...keys.jobLists(), normalise(params)] as const,
  job: (id: string) => [...keys.all, 'job', id] as const,
  stats: () => [...keys.all, 'stats'] as const,
  queues: () => [...keys.all, 'queues'] as const,
  workers: () => [...keys.all, 'workers'] as const,
  definitions: () => [...keys.all, 'definitions'] as const,
  definition: (name: string) => [...keys.all, 'definition', name] as const,
  schedules: () => [...keys.all, 'schedules'] as const,
  schedule: (id: string) => [...keys.all, 'schedule', id] as const,
  workflows: () => [...keys.all, 'workflows'] as const,
  workflow: (id: string) => [...keys.all, 'workflow', id] as const,
  /** Runs of one workflow (by the id or name used in the address). */
  workflowRuns: (id: string) => [...keys.all, 'workflow-runs', id] as const,
  allWorkflowRuns: () => [...keys.all, 'workflow-runs'] as const,
  runs: () => [...keys.all, 'run'] as const,
  run: (id: string) => [...keys.runs(), id] as const,
  tokens: () => [...keys.all, 'tokens'] as const,
  webhooks: () => [...keys.all, 'webhooks'] as const,
  webhook: (id: string) => [...keys.all, 'webhook', id] as const,
  allDeliveries: () => [...keys.all, 'deliveries'] as const,
  webhookDeliveries: (id: string) => [...keys.allDeliveries(), id] as const,
  deliveries: (id: string, params: DeliveryParams) => [...keys.webhookDeliveries(id), params] as const,
};

/** What an api without access control (no /session route) is treated as. */
export const NO_AUTH_SESSION: Session = { auth: 'disabled', name: null, scope: 'admin' };

/** The session, or null when this browser is not signed in (401). */
export async function fetchSession(options?: { signal?: AbortSignal }): Promise<Session | null> {
  try {
    return await api.session(options);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    if (isUnavailable(e)) return NO_AUTH_SESSION;
    throw e;
  }
}

export function useSessionQuery() {
  return useQuery({
    queryKey: keys.session(),
    queryFn: ({ signal }) => fetchSession({ signal }),
    // Any later 401 clears it (src/auth/session.ts); no need to re-ask.
    staleTime: Infinity,
    retry: 1,
  });
}

/** The list params as stored in a query key: no undefined or empty members,
 *  so that `{status: undefined}` and `{}` share one cache entry. */
export function normalise(params: ListParams): ListParams {
  const out: ListParams = {};
  for (const [key, value] of Object.entries(params) as [keyof ListParams, unknown][]) {
    if (value !== undefined && value !== null && value !== '') (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** The filter part of list params (what an event is matched against). */
export function filterOf(params: ListParams): JobFilter {
  return { status: params.status, queue: params.queue, kind: params.kind, name: params.name };
}

export function useJobList(params: ListParams) {
  return useQuery({
    queryKey: keys.jobList(params),
    queryFn: ({ signal }) => api.listJobs(params, { signal }),
    placeholderData: keepPreviousData,
  });
}

export function useJob(id: string) {
  return useQuery({
    queryKey: keys.job(id),
    queryFn: ({ signal }) => api.getJob(id, { signal }),
  });
}

export function useStats() {
  return useQuery({
    queryKey: keys.stats(),
    queryFn: ({ signal }) => api.stats({ signal }),
    // The minute buckets roll over even when nothing happens.
    refetchInterval: 30_000,
  });
}

export function useQueues() {
  return useQuery({
    queryKey: keys.queues(),
    queryFn: ({ signal }) => api.queues({ signal }),
    refetchInterval: 15_000,
  });
}

export function useWorkers() {
  return useQuery({
    queryKey: keys.workers(),
    queryFn: ({ signal }) => api.workers({ signal }),
    // Heartbeats are not broadcast: poll.
    refetchInterval: 3_000,
  });
}

export function useDefinitions() {
  return useQuery({
    queryKey: keys.definitions(),
    queryFn: ({ signal }) => api.definitions({ signal }),
  });
}

export function useDefinition(name: string) {
  return useQuery({
    queryKey: keys.definition(name),
    queryFn: ({ signal }) => api.getDefinition(name, { signal }),
  });
}

export function useSchedules() {
  return useQuery({
    queryKey: keys.schedules(),
    queryFn: ({ signal }) => api.schedules({ signal }),
    // Fires are not broadcast as such: poll for next_fire_at moving on.
    refetchInterval: 10_000,
  });
}

export function useSchedule(id: string) {
  return useQuery({
    queryKey: keys.schedule(id),
    queryFn: ({ signal }) => api.getSchedule(id, { signal }),
    // New fires are not broadcast (an event does not name its schedule):
    // poll; the fires' statuses then follow the live feed.
    refetchInterval: 4_000,
  });
}

export function useWorkflows() {
  return useQuery({
    queryKey: keys.workflows(),
    queryFn: ({ signal }) => api.workflows({ signal }),
  });
}

export function useWorkflow(id: string) {
  return useQuery({
    queryKey: keys.workflow(id),
    queryFn: ({ signal }) => api.getWorkflow(id, { signal }),
  });
}

export function useWorkflowRuns(id: string) {
  return useQuery({
    queryKey: keys.workflowRuns(id),
    queryFn: ({ signal }) => api.workflowRuns(id, { signal }),
  });
}

export function useRun(id: string) {
  return useQuery({
    queryKey: keys.run(id),
    queryFn: ({ signal }) => api.getRun(id, { signal }),
  });
}

export function useTokens(enabled = true) {
  return useQuery({
    queryKey: keys.tokens(),
    queryFn: ({ signal }) => api.tokens({ signal }),
    enabled,
  });
}

export function useWebhooks() {
  return useQuery({
    queryKey: keys.webhooks(),
    queryFn: ({ signal }) => api.webhooks({ signal }),
    // Deliveries are not broadcast: follow the pending ones to their end.
    refetchInterval: (query) => (query.state.data?.webhooks.some((w) => w.last_delivery?.status === 'pending') ? 3_000 : false),
  });
}

export function useWebhook(id: string) {
  return useQuery({
    queryKey: keys.webhook(id),
    queryFn: ({ signal }) => api.getWebhook(id, { signal }),
  });
}

/** How often a page of deliveries is refetched: while one of them is still
 *  pending (a retry is due), or until `pollUntil` (just after "Send test" or
 *  a redelivery, before the new delivery shows), every few seconds; else never. */
export function deliveriesRefetchInterval(page: DeliveryPage | undefined, options: { now?: number; pollUntil?: number; ms?: number } = {}): number | false {
  const ms = options.ms ?? 2_000;
  if (page?.deliveries.some((d) => d.status === 'pending')) return ms;
  if (options.pollUntil !== undefined && (options.now ?? Date.now()) < options.pollUntil) return ms;
  return false;
}

export function useDeliveries(id: string, params: DeliveryParams, options: { pollUntil?: number } = {}) {
  return useQuery({
    queryKey: keys.deliveries(id, params),
    queryFn: ({ signal }) => api.deliveries(id, params, { signal }),
    placeholderData: keepPreviousData,
    refetchInterval: (query) => deliveriesRefetchInterval(query.state.data, options.pollUntil === undefined ? {} : { pollUntil: options.pollUntil }),
  });
}

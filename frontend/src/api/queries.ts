// Query keys and hooks. Every cached value lives under one of these keys, and
// the live feed (src/live) updates or invalidates exactly these.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, type ListParams } from './endpoints';
import type { JobFilter } from './types';

export const keys = {
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
};

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

// Applies live events to the TanStack Query cache, in batches: events are
// buffered and applied every FLUSH_MS with the pure reducer; whatever the
// reducer marks stale is refetched, at most once per interval per query, so a
// busy system does not turn into a storm of requests or renders.

import type { QueryClient, QueryKey } from '@tanstack/react-query';
import { keys } from '../api/queries';
import type { ListParams } from '../api/endpoints';
import type { JobDetail, JobPage, RunDetail, ScheduleDetail, StatusEvent } from '../api/types';
import { appendToLog, applyEventsToDetail, applyEventsToFires, applyEventsToPage, applyEventsToRun } from './reducer';

const FLUSH_MS = 200;
const LIST_REFETCH_MS = 1_500;
const DETAIL_REFETCH_MS = 500;
const COUNTS_REFETCH_MS = 2_000;

/** Runs a task keyed by a string at most once per interval; a call inside the
 *  interval runs it once at the end of the interval (trailing). */
class Throttle {
  private last = new Map<string, number>();
  private pending = new Map<string, ReturnType<typeof setTimeout>>();

  run(key: string, interval: number, task: () => void): void {
    if (this.pending.has(key)) return;
    const wait = (this.last.get(key) ?? 0) + interval - Date.now();
    const fire = () => {
      this.pending.delete(key);
      this.last.set(key, Date.now());
      task();
    };
    if (wait <= 0) fire();
    else this.pending.set(key, setTimeout(fire, wait));
  }

  clear(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}

export class CacheSync {
  private buffer: StatusEvent[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly throttle = new Throttle();
  private readonly logs = new Map<string, readonly StatusEvent[]>();
  private readonly logListeners = new Set<() => void>();

  constructor(private readonly client: QueryClient) {}

  push(events: StatusEvent[]): void {
    this.buffer.push(...events);
    if (this.flushTimer === null) this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Re-read everything fetched before `since` (or being fetched now). */
  gap(since: number): void {
    void this.client.invalidateQueries({
      queryKey: keys.all,
      predicate: (query) => query.state.dataUpdatedAt < since || query.state.fetchStatus === 'fetching',
    });
  }

  dispose(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.throttle.clear();
  }

  /** The events seen for one job since this page was opened. */
  logOf = (jobId: string): readonly StatusEvent[] => this.logs.get(jobId) ?? EMPTY;

  subscribeLogs = (listener: () => void): (() => void) => {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  };

  flush(): void {
    this.flushTimer = null;
    const events = this.buffer;
    this.buffer = [];
    if (events.length === 0) return;

    for (const [key, page] of this.client.getQueriesData<JobPage>({ queryKey: keys.jobLists() })) {
      if (!page) continue;
      const params = (key[2] ?? {}) as ListParams;
      const { value, stale } = applyEventsToPage(page, params, events);
      if (value !== page) this.client.setQueryData(key, value);
      if (stale) this.refetch(key, LIST_REFETCH_MS);
    }

    const touched = new Set(events.map((e) => e.job_id));
    let logsChanged = false;
    for (const id of touched) {
      const key = keys.job(id);
      const detail = this.client.getQueryData<JobDetail>(key);
      if (!detail) continue;
      const { value, stale } = applyEventsToDetail(detail, events);
      if (value !== detail) this.client.setQueryData(key, value);
      if (stale) this.refetch(key, DETAIL_REFETCH_MS);
      const log = this.logs.get(id) ?? EMPTY;
      const next = appendToLog(log, events, id);
      if (next !== log) {
        this.logs.set(id, next);
        logsChanged = true;
      }
    }
    if (logsChanged) for (const listener of this.logListeners) listener();

    // Workflow runs on screen: every node's colour follows its job.
    for (const [key, run] of this.client.getQueriesData<RunDetail>({ queryKey: keys.runs() })) {
      if (!run) continue;
      const { value, stale } = applyEventsToRun(run, events);
      if (value !== run) this.client.setQueryData(key, value);
      if (stale) this.refetch(key, DETAIL_REFETCH_MS);
    }
    // Run lists carry counts by status, which events cannot keep: refetch.
    if (events.some((e) => e.workflow_run_id)) this.refetch(keys.allWorkflowRuns(), LIST_REFETCH_MS, false);
    // A schedule's fires show their job's status.
    for (const [key, detail] of this.client.getQueriesData<ScheduleDetail>({ queryKey: [...keys.all, 'schedule'] })) {
      if (!detail?.fires) continue;
      const { value, stale } = applyEventsToFires(detail, events);
      if (value !== detail) this.client.setQueryData(key, value);
      if (stale) this.refetch(key, LIST_REFETCH_MS);
    }

    // Counts cannot be derived from events (an event lacks the previous
    // status), so the aggregate views refetch, at most every COUNTS_REFETCH_MS.
    this.refetch(keys.stats(), COUNTS_REFETCH_MS);
    this.refetch(keys.queues(), COUNTS_REFETCH_MS);
    this.refetch(keys.workers(), COUNTS_REFETCH_MS);
  }

  /** Marks `key` (and with `exact` false, every key under it) stale, at most once per interval. */
  private refetch(key: QueryKey, interval: number, exact = true): void {
    this.throttle.run(JSON.stringify(key), interval, () => {
      void this.client.invalidateQueries({ queryKey: key, exact });
    });
  }
}

const EMPTY: readonly StatusEvent[] = [];

// Pure functions that apply live status events to cached api answers.
//
// An event ({job_id, queue, kind, name, status, attempt, run_at, error, at})
// says less than a job row: it has no priority, timestamps or result. So each
// function returns the updated value plus `stale`: true when the event showed
// that the cached value is missing something only the REST api can supply (a
// new job that belongs on this page, a new attempt, a result). The caller
// then refetches, throttled. Nothing here touches the network or the clock.

import { FINAL, type Job, type JobDetail, type JobFilter, type JobPage, type JobStatus, type RunDetail, type RunStatus, type ScheduleDetail, type StatusEvent } from '../api/types';
import type { ListParams } from '../api/endpoints';

export interface Reduced<T> {
  value: T;
  /** The cached value lacks something the events revealed: refetch it. */
  stale: boolean;
}

/** Whether `event` is older than what `job` already shows. */
export function isOutdated(job: Pick<Job, 'attempt' | 'updated_at'>, event: StatusEvent): boolean {
  if (event.attempt !== job.attempt) return event.attempt < job.attempt;
  return Date.parse(event.at) < Date.parse(job.updated_at);
}

/**
 * The job after `event`. Returns the same object when the event is outdated or
 * changes nothing, so callers can compare by identity.
 */
export function applyEventToJob<T extends Job>(job: T, event: StatusEvent): T {
  if (event.job_id !== job.id || isOutdated(job, event)) return job;
  if (event.status === job.status && event.attempt === job.attempt) return job;
  const next: T = { ...job, status: event.status, attempt: event.attempt, updated_at: event.at };
  switch (event.status) {
    case 'running':
      next.started_at = event.at;
      next.finished_at = null;
      break;
    case 'scheduled':
      if (event.run_at) next.run_at = event.run_at;
      if (event.error) next.last_error = event.error;
      next.finished_at = null;
      break;
    case 'queued':
      next.finished_at = null;
      break;
    case 'succeeded':
    case 'dead':
    case 'cancelled':
    case 'skipped':
      next.finished_at = event.at;
      if (event.error) next.last_error = event.error;
      break;
    case 'blocked':
      break;
  }
  return next;
}

/** Whether a job in `status` with this queue/kind/name belongs in a list
 *  filtered by `filter` (name is a case-insensitive substring, as on the server). */
export function matchesFilter(
  filter: JobFilter,
  job: { status: JobStatus; queue: string; kind: string; name: string },
): boolean {
  if (filter.status && job.status !== filter.status) return false;
  if (filter.queue && job.queue !== filter.queue) return false;
  if (filter.kind && job.kind !== filter.kind) return false;
  if (filter.name && !job.name.toLowerCase().includes(filter.name.toLowerCase())) return false;
  return true;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Whether a new job could belong on a cached page. Pages in created order are
 * newest first by UUID v7, whose lowercase text sorts like the ids do: the
 * first page covers everything newer than its last row; a later page covers
 * [its last row, its cursor) (the cursor is the id before it; an opaque one
 * stands for no more than the page's first row); the last page of a list has
 * no lower bound. In priority order an event does not say the job's
 * priority, so only the first page is re-read, to be safe.
 */
function inPageRange(page: JobPage, params: ListParams, id: string): boolean {
  if (params.sort === 'priority') return !params.cursor;
  const cursor = params.cursor;
  if (cursor && UUID_RE.test(cursor) && id >= cursor) return false;
  if (cursor && !UUID_RE.test(cursor)) {
    const first = page.jobs[0]?.id;
    if (first === undefined || id > first) return false;
  }
  if (page.next_cursor === null || page.next_cursor === undefined) return true;
  const last = page.jobs[page.jobs.length - 1];
  return last === undefined || id > last.id;
}

/**
 * A cached page of GET /jobs after `events`. Rows are updated in place; a row
 * whose new status leaves the filter (a retried job on the dead-letter page)
 * is removed; a job that now belongs on the page but is not in it marks the
 * page stale, since an event cannot fill in a whole row.
 */
export function applyEventsToPage(page: JobPage, params: ListParams, events: readonly StatusEvent[]): Reduced<JobPage> {
  let jobs = page.jobs;
  let stale = false;
  for (const event of events) {
    const index = jobs.findIndex((j) => j.id === event.job_id);
    if (index >= 0) {
      const current = jobs[index] as Job;
      const updated = applyEventToJob(current, event);
      if (updated === current) {
        // Outdated or already shown. An outdated event for a row we hold may
        // mean clocks disagree; a refetch settles it.
        if (isOutdated(current, event) && event.status !== current.status) stale = true;
        continue;
      }
      jobs = matchesFilter(params, updated)
        ? jobs.map((j, i) => (i === index ? updated : j))
        : jobs.filter((_, i) => i !== index);
    } else if (matchesFilter(params, event) && inPageRange(page, params, event.job_id)) {
      stale = true;
    }
  }
  return { value: jobs === page.jobs ? page : { ...page, jobs }, stale };
}

/** A cached job detail after `events`. Stale whenever the state moved: the
 *  attempts, result and output are only in the REST answer. */
export function applyEventsToDetail(detail: JobDetail, events: readonly StatusEvent[]): Reduced<JobDetail> {
  let value = detail;
  let stale = false;
  for (const event of events) {
    if (event.job_id !== detail.id) continue;
    const updated = applyEventToJob(value, event);
    if (updated !== value) {
      value = updated;
      stale = true;
    } else if (isOutdated(value, event) && event.status !== value.status) {
      stale = true;
    }
  }
  return { value, stale };
}

/** The live log of one job: its events in arrival order, deduplicated, at
 *  most `limit` long (oldest dropped). */
export function appendToLog(
  log: readonly StatusEvent[],
  events: readonly StatusEvent[],
  jobId: string,
  limit = 200,
): readonly StatusEvent[] {
  const same = (a: StatusEvent, b: StatusEvent) => a.status === b.status && a.attempt === b.attempt && a.at === b.at;
  let next: StatusEvent[] | null = null;
  for (const e of events) {
    if (e.job_id !== jobId || (next ?? log).some((l) => same(l, e))) continue;
    next ??= [...log];
    next.push(e);
  }
  if (next === null) return log;
  return next.length > limit ? next.slice(next.length - limit) : next;
}

/** A run's status from its jobs' statuses, as the server derives it
 *  (shared/src/db/workflows.rs `run_status`). */
export function runStatusOf(statuses: readonly JobStatus[]): RunStatus {
  if (statuses.some((s) => !FINAL.has(s))) return 'running';
  if (statuses.every((s) => s === 'succeeded')) return 'succeeded';
  if (statuses.some((s) => s === 'dead' || s === 'skipped')) return 'failed';
  return 'cancelled';
}

/**
 * A cached workflow run after `events`: each event of this run (by
 * `workflow_run_id`, or by a node's job id) moves its node's job, and the
 * run's status is derived again. Stale when an event names a node this
 * copy does not have (the run was retried into new jobs, say).
 */
export function applyEventsToRun(run: RunDetail, events: readonly StatusEvent[]): Reduced<RunDetail> {
  let nodes = run.nodes;
  let stale = false;
  for (const event of events) {
    const index = nodes.findIndex((n) => n.job.id === event.job_id);
    if (index < 0) {
      if (event.workflow_run_id === run.id) stale = true;
      continue;
    }
    const node = nodes[index] as RunDetail['nodes'][number];
    const job = applyEventToJob(node.job, event);
    if (job === node.job) continue;
    nodes = nodes.map((n, i) => (i === index ? { ...n, job } : n));
  }
  if (nodes === run.nodes) return { value: run, stale };
  return { value: { ...run, nodes, status: runStatusOf(nodes.map((n) => n.job.status)) }, stale };
}

/**
 * A cached schedule after `events`: a fire whose job moved shows the job's
 * new status. A fire that started a workflow run shows the run's status,
 * which an event cannot tell alone: stale.
 */
export function applyEventsToFires(detail: ScheduleDetail, events: readonly StatusEvent[]): Reduced<ScheduleDetail> {
  let fires = detail.fires;
  let stale = false;
  for (const event of events) {
    if (event.workflow_run_id && fires.some((f) => f.workflow_run_id === event.workflow_run_id)) stale = true;
    const index = fires.findIndex((f) => f.job_id === event.job_id);
    if (index < 0 || fires[index]?.status === event.status) continue;
    fires = fires.map((f, i) => (i === index ? { ...f, status: event.status } : f));
  }
  return { value: fires === detail.fires ? detail : { ...detail, fires }, stale };
}

// The states a job went through, from its record (created, each attempt's
// start and end, its final state) and from the live events seen while the
// page was open. Pure: the page renders whatever this returns.

import type { Attempt, AttemptOutcome, JobDetail, JobStatus, StatusEvent } from '../../api/types';

export interface TimelineEntry {
  at: string;
  /** The job status this entry puts the job in (or the attempt's outcome). */
  status: JobStatus;
  title: string;
  detail?: string;
  /** Seen on the live feed and not (yet) in the job's record. */
  live?: boolean;
}

const OUTCOME_STATUS: Record<AttemptOutcome, JobStatus> = {
  running: 'running',
  succeeded: 'succeeded',
  failed: 'dead',
  timed_out: 'dead',
  cancelled: 'cancelled',
  interrupted: 'queued',
  lost: 'queued',
};

const OUTCOME_TITLE: Record<AttemptOutcome, string> = {
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  timed_out: 'timed out',
  cancelled: 'was cancelled',
  interrupted: 'was interrupted (worker shut down; handed back)',
  lost: 'was lost (lease expired)',
};

function attemptEntries(a: Attempt): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    { at: a.started_at, status: 'running', title: `Attempt ${a.attempt} started`, detail: `on ${a.worker_id}` },
  ];
  if (a.finished_at && a.outcome !== 'running') {
    entries.push({
      at: a.finished_at,
      status: OUTCOME_STATUS[a.outcome],
      title: `Attempt ${a.attempt} ${OUTCOME_TITLE[a.outcome]}`,
      ...(a.error ? { detail: a.error } : {}),
    });
  }
  return entries;
}

/** Whether the record already tells what `event` tells. */
function covered(job: JobDetail, event: StatusEvent): boolean {
  const attempt = job.attempts.find((a) => a.attempt === event.attempt);
  switch (event.status) {
    case 'running':
      return attempt !== undefined;
    case 'scheduled':
      // Scheduled at submission (attempt 0), or for a retry after attempt n failed.
      return event.attempt === 0 || (attempt !== undefined && attempt.outcome !== 'running');
    case 'queued':
      return event.attempt === 0 || job.attempt > event.attempt || (job.status === 'queued' && job.attempt === event.attempt);
    default:
      // A final state: covered once the record shows it.
      return job.status === event.status && job.attempt === event.attempt && Boolean(job.finished_at);
  }
}

export function buildTimeline(job: JobDetail, live: readonly StatusEvent[] = []): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const delayed = Date.parse(job.run_at) - Date.parse(job.created_at) > 1000 && job.attempts.length === 0;
  const firstDue = job.attempts.length === 0 ? job.run_at : undefined;
  entries.push({
    at: job.created_at,
    status: delayed ? 'scheduled' : 'queued',
    title: 'Submitted',
    detail: `to queue ${job.queue}${delayed && firstDue ? `, due ${firstDue}` : ''}`,
  });
  for (const attempt of [...job.attempts].sort((a, b) => a.attempt - b.attempt)) entries.push(...attemptEntries(attempt));

  if (job.status === 'scheduled' && job.attempts.length > 0) {
    entries.push({ at: job.updated_at, status: 'scheduled', title: 'Retry scheduled', detail: `due ${job.run_at}` });
  }
  if (job.status === 'queued' && job.attempt_base > 0 && job.attempt_base === job.attempt) {
    entries.push({ at: job.updated_at, status: 'queued', title: 'Retried by hand', detail: `fresh budget of ${job.max_attempts} attempts` });
  }
  const last = job.attempts.reduce<Attempt | undefined>((a, b) => (a && a.attempt > b.attempt ? a : b), undefined);
  // A success is already told by its attempt; the other final states add
  // something (no more retries, a cancel, a skipped workflow step).
  const toldByAttempt = job.status === 'succeeded' && last?.outcome === 'succeeded';
  if (job.finished_at && !toldByAttempt && (job.status === 'dead' || job.status === 'cancelled' || job.status === 'skipped' || job.status === 'succeeded')) {
    const title = { dead: 'Dead', cancelled: 'Cancelled', skipped: 'Skipped', succeeded: 'Succeeded' }[job.status];
    entries.push({
      at: job.finished_at,
      status: job.status,
      title,
      ...(job.status !== 'succeeded' && job.last_error ? { detail: job.last_error } : {}),
    });
  }

  for (const event of live) {
    if (covered(job, event)) continue;
    entries.push({
      at: event.at,
      status: event.status,
      title: event.status === 'running' ? `Attempt ${event.attempt} started` : `Now ${event.status}`,
      ...(event.error ? { detail: event.error } : event.run_at ? { detail: `due ${event.run_at}` } : {}),
      live: true,
    });
  }

  // Stable by time; equal times keep insertion order (record before live).
  return entries
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => Date.parse(a.entry.at) - Date.parse(b.entry.at) || a.index - b.index)
    .map(({ entry }) => entry);
}

// Cancel, retry or delete many jobs: a selection, or every job matching a
// filter, with POST /jobs/bulk (10,000 jobs a call, called again while it
// says `more`). An api without the endpoint gets the old way: one request
// per job, walking the filter page by page.

import { ApiError } from '../../api/client';
import type { ListParams } from '../../api/endpoints';
import { CANCELLABLE, FINAL, RETRYABLE, type BulkAction, type BulkRequest, type BulkResult, type Job, type JobFilter, type JobPage, type JobStatus } from '../../api/types';

export type { BulkAction };

export interface BulkProgress {
  /** Jobs matched (bulk endpoint) or read from the filter (fallback) so far. */
  scanned: number;
  /** Jobs the action succeeded on. */
  done: number;
  /** Jobs not in a state the action applies to (or that left it meanwhile). */
  skipped: number;
  failed: number;
  /** The first few failure messages. */
  errors: string[];
  finished: boolean;
}

export interface BulkDeps {
  bulk: (request: BulkRequest, signal?: AbortSignal) => Promise<BulkResult>;
  list: (params: ListParams, signal?: AbortSignal) => Promise<JobPage>;
  act: (action: BulkAction, id: string) => Promise<unknown>;
}

/** The statuses each action applies to (the server's rules). */
export const ELIGIBLE: Record<BulkAction, ReadonlySet<JobStatus>> = { cancel: CANCELLABLE, retry: RETRYABLE, delete: FINAL };

export function appliesTo(action: BulkAction, status: JobStatus): boolean {
  return ELIGIBLE[action].has(status);
}

export const emptyProgress = (): BulkProgress => ({ scanned: 0, done: 0, skipped: 0, failed: 0, errors: [], finished: false });

const missing = (e: unknown) => e instanceof ApiError && e.isMissingRoute;

function add(progress: BulkProgress, result: BulkResult) {
  progress.scanned += result.matched;
  progress.done += result.changed;
  progress.skipped += result.skipped;
}

/** Acts on `jobs` with at most `concurrency` requests at once, one per job (the fallback). */
export async function actOnJobs(
  action: BulkAction,
  jobs: readonly Pick<Job, 'id' | 'status'>[],
  deps: Pick<BulkDeps, 'act'>,
  progress: BulkProgress,
  options: { concurrency?: number; signal?: AbortSignal; onProgress?: (p: BulkProgress) => void } = {},
): Promise<BulkProgress> {
  const queue = jobs.filter((job) => {
    if (appliesTo(action, job.status)) return true;
    progress.skipped += 1;
    return false;
  });
  options.onProgress?.({ ...progress });
  let next = 0;
  const worker = async () => {
    while (next < queue.length && !options.signal?.aborted) {
      const job = queue[next++] as Pick<Job, 'id' | 'status'>;
      try {
        await deps.act(action, job.id);
        progress.done += 1;
      } catch (e) {
        // 409: the job moved to a state the action does not apply to.
        if (e instanceof ApiError && e.status === 409) progress.skipped += 1;
        else {
          progress.failed += 1;
          if (progress.errors.length < 5) progress.errors.push(e instanceof Error ? e.message : String(e));
        }
      }
      options.onProgress?.({ ...progress });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, queue.length) }, worker));
  return progress;
}

/** Acts on the selected jobs: one bulk call, or one request per job on an older api. */
export async function actOnSelection(
  action: BulkAction,
  jobs: readonly Pick<Job, 'id' | 'status'>[],
  deps: BulkDeps,
  options: { signal?: AbortSignal; onProgress?: (p: BulkProgress) => void } = {},
): Promise<BulkProgress> {
  const progress = emptyProgress();
  try {
    add(progress, await deps.bulk({ action, ids: jobs.map((j) => j.id) }, options.signal));
  } catch (e) {
    if (!missing(e)) throw e;
    await actOnJobs(action, jobs, deps, progress, options);
  }
  progress.finished = true;
  options.onProgress?.({ ...progress });
  return progress;
}

/**
 * Acts on every job matching `filter`. Asks once per status the action
 * applies to (or the filter's own status), and again while the server says
 * `more`: the jobs changed leave that status, so each call reaches new ones.
 * A call that changes nothing ends that status, so jobs moving elsewhere
 * meanwhile cannot keep it going for ever.
 */
export async function actOnAllMatching(
  action: BulkAction,
  filter: JobFilter,
  deps: BulkDeps,
  options: { pageSize?: number; concurrency?: number; signal?: AbortSignal; onProgress?: (p: BulkProgress) => void } = {},
): Promise<BulkProgress> {
  const progress = emptyProgress();
  const statuses = filter.status ? [filter.status] : [...ELIGIBLE[action]];
  try {
    for (const status of statuses) {
      for (;;) {
        if (options.signal?.aborted) break;
        const result = await deps.bulk({ action, filter: { ...filter, status } }, options.signal);
        add(progress, result);
        options.onProgress?.({ ...progress });
        if (!result.more || result.changed === 0) break;
      }
    }
  } catch (e) {
    if (!missing(e) || progress.scanned > 0) throw e;
    return actOnAllMatchingOneByOne(action, filter, deps, options);
  }
  progress.finished = true;
  options.onProgress?.({ ...progress });
  return progress;
}

/** The fallback: walk the filter page by page (keyset pagination, so jobs
 *  changing state meanwhile do not shift the pages) and act on each job. */
export async function actOnAllMatchingOneByOne(
  action: BulkAction,
  filter: JobFilter,
  deps: Pick<BulkDeps, 'list' | 'act'>,
  options: { pageSize?: number; concurrency?: number; signal?: AbortSignal; onProgress?: (p: BulkProgress) => void } = {},
): Promise<BulkProgress> {
  const progress = emptyProgress();
  let cursor: string | undefined;
  do {
    if (options.signal?.aborted) break;
    const page = await deps.list({ ...filter, limit: options.pageSize ?? 500, cursor }, options.signal);
    progress.scanned += page.jobs.length;
    await actOnJobs(action, page.jobs, deps, progress, options);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  progress.finished = true;
  options.onProgress?.({ ...progress });
  return progress;
}

const VERB: Record<BulkAction, [done: string, able: string]> = {
  cancel: ['cancelled', 'cancellable'],
  retry: ['retried', 'retryable'],
  delete: ['deleted', 'finished'],
};

export function summarise(action: BulkAction, p: BulkProgress): string {
  const [verb, able] = VERB[action];
  const parts = [`${p.done} ${p.done === 1 ? 'job' : 'jobs'} ${verb}`];
  if (p.skipped) parts.push(`${p.skipped} skipped (not ${able})`);
  if (p.failed) parts.push(`${p.failed} failed: ${p.errors[0] ?? ''}`);
  return parts.join(', ');
}

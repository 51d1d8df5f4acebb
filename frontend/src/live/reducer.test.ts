import { describe, expect, it } from 'vitest';
import type { Job, JobDetail, JobPage, StatusEvent } from '../api/types';
import { appendToLog, applyEventToJob, applyEventsToDetail, applyEventsToPage, matchesFilter } from './reducer';

// UUID v7-like ids: later ids sort higher, as on the server.
const id = (n: number) => `0193a000-0000-7000-8000-${String(n).padStart(12, '0')}`;

function job(n: number, overrides: Partial<Job> = {}): Job {
  return {
    id: id(n),
    queue: 'default',
    kind: 'shell',
    name: `job-${n}`,
    payload: {},
    priority: 5,
    status: 'queued',
    attempt: 0,
    attempt_base: 0,
    max_attempts: 3,
    backoff: { base_ms: 1000, max_ms: 3_600_000 },
    timeout_secs: null,
    run_at: '2030-01-01T09:00:00Z',
    idempotency_key: null,
    lease_owner: null,
    lease_expires_at: null,
    last_error: null,
    result: null,
    created_at: '2030-01-01T09:00:00Z',
    updated_at: '2030-01-01T09:00:00Z',
    started_at: null,
    finished_at: null,
    ...overrides,
  };
}

function event(n: number, overrides: Partial<StatusEvent> = {}): StatusEvent {
  return {
    job_id: id(n),
    queue: 'default',
    kind: 'shell',
    name: `job-${n}`,
    status: 'running',
    attempt: 1,
    run_at: null,
    error: null,
    at: '2030-01-01T09:00:05Z',
    ...overrides,
  };
}

const page = (jobs: Job[], next_cursor: string | null = null): JobPage => ({ jobs, next_cursor });

describe('applyEventToJob', () => {
  it('moves a queued job to running with the new attempt and start time', () => {
    const next = applyEventToJob(job(1), event(1));
    expect(next).toMatchObject({ status: 'running', attempt: 1, started_at: '2030-01-01T09:00:05Z', updated_at: '2030-01-01T09:00:05Z' });
  });

  it('sets finished_at and the error when a job dies', () => {
    const running = job(1, { status: 'running', attempt: 2, updated_at: '2030-01-01T09:00:04Z' });
    const next = applyEventToJob(running, event(1, { status: 'dead', attempt: 2, error: 'exited with status 1' }));
    expect(next).toMatchObject({ status: 'dead', finished_at: '2030-01-01T09:00:05Z', last_error: 'exited with status 1' });
  });

  it('records the retry time of a job scheduled for a retry', () => {
    const running = job(1, { status: 'running', attempt: 1 });
    const next = applyEventToJob(running, event(1, { status: 'scheduled', run_at: '2030-01-01T09:00:07Z', error: 'boom' }));
    expect(next).toMatchObject({ status: 'scheduled', run_at: '2030-01-01T09:00:07Z', last_error: 'boom', finished_at: null });
  });

  it('ignores an event from an earlier attempt', () => {
    const current = job(1, { status: 'running', attempt: 2 });
    expect(applyEventToJob(current, event(1, { status: 'dead', attempt: 1 }))).toBe(current);
  });

  it('ignores an older event of the same attempt', () => {
    const done = job(1, { status: 'succeeded', attempt: 1, updated_at: '2030-01-01T09:00:09Z' });
    expect(applyEventToJob(done, event(1, { status: 'running', attempt: 1, at: '2030-01-01T09:00:05Z' }))).toBe(done);
  });

  it('returns the same object for an event about another job or one that changes nothing', () => {
    const current = job(1, { status: 'running', attempt: 1, updated_at: '2030-01-01T09:00:05Z' });
    expect(applyEventToJob(current, event(2))).toBe(current);
    expect(applyEventToJob(current, event(1))).toBe(current);
  });

  it('clears finished_at when a dead job is retried', () => {
    const dead = job(1, { status: 'dead', attempt: 3, finished_at: '2030-01-01T09:00:03Z', updated_at: '2030-01-01T09:00:03Z' });
    const next = applyEventToJob(dead, event(1, { status: 'queued', attempt: 3 }));
    expect(next).toMatchObject({ status: 'queued', finished_at: null });
  });
});

describe('matchesFilter', () => {
  const subject = { status: 'dead' as const, queue: 'emails', kind: 'http', name: 'Nightly Report' };
  it('matches exact status, queue and kind and a case-insensitive name substring', () => {
    expect(matchesFilter({}, subject)).toBe(true);
    expect(matchesFilter({ status: 'dead', queue: 'emails', kind: 'http', name: 'night' }, subject)).toBe(true);
    expect(matchesFilter({ status: 'queued' }, subject)).toBe(false);
    expect(matchesFilter({ queue: 'default' }, subject)).toBe(false);
    expect(matchesFilter({ kind: 'shell' }, subject)).toBe(false);
    expect(matchesFilter({ name: 'weekly' }, subject)).toBe(false);
  });
});

describe('applyEventsToPage', () => {
  it('updates a row in place and keeps the others by identity', () => {
    const a = job(2);
    const b = job(1);
    const { value, stale } = applyEventsToPage(page([a, b]), {}, [event(1)]);
    expect(value.jobs[0]).toBe(a);
    expect(value.jobs[1]).toMatchObject({ id: id(1), status: 'running' });
    expect(stale).toBe(false);
  });

  it('removes a row whose new status leaves the filter (a retried dead letter)', () => {
    const dead = job(1, { status: 'dead', attempt: 3, updated_at: '2030-01-01T09:00:01Z' });
    const { value } = applyEventsToPage(page([dead]), { status: 'dead' }, [event(1, { status: 'queued', attempt: 3 })]);
    expect(value.jobs).toHaveLength(0);
  });

  it('marks the first page stale when a new matching job appears', () => {
    const { value, stale } = applyEventsToPage(page([job(1)]), { queue: 'default' }, [event(5, { status: 'queued', attempt: 0 })]);
    expect(stale).toBe(true);
    expect(value.jobs).toHaveLength(1);
  });

  it('ignores a new job that does not match the filter', () => {
    const { stale } = applyEventsToPage(page([job(1)]), { queue: 'emails' }, [event(5, { status: 'queued', attempt: 0 })]);
    expect(stale).toBe(false);
  });

  it('ignores a job outside the id range of a later page', () => {
    const later = page([job(10), job(9)], id(9));
    // Newer than this page's cursor: it belongs on an earlier page.
    expect(applyEventsToPage(later, { cursor: id(11) }, [event(12, { status: 'dead', attempt: 1 })]).stale).toBe(false);
    // Older than this page's last row, with more pages after it.
    expect(applyEventsToPage(later, { cursor: id(11) }, [event(3, { status: 'dead', attempt: 1 })]).stale).toBe(false);
    // Inside the range.
    expect(applyEventsToPage(page([job(10), job(8)], id(8)), { cursor: id(11) }, [event(9, { status: 'dead', attempt: 1 })]).stale).toBe(true);
  });

  it('returns the same page when nothing changed', () => {
    const p = page([job(1, { status: 'running', attempt: 1, updated_at: '2030-01-01T09:00:05Z' })]);
    expect(applyEventsToPage(p, {}, [event(1)]).value).toBe(p);
  });

  it('applies several events in order', () => {
    const events = [
      event(1, { status: 'running', attempt: 1, at: '2030-01-01T09:00:01Z' }),
      event(1, { status: 'scheduled', attempt: 1, at: '2030-01-01T09:00:02Z', run_at: '2030-01-01T09:00:03Z', error: 'boom' }),
      event(1, { status: 'running', attempt: 2, at: '2030-01-01T09:00:03Z' }),
      event(1, { status: 'succeeded', attempt: 2, at: '2030-01-01T09:00:04Z' }),
    ];
    const { value } = applyEventsToPage(page([job(1)]), {}, events);
    expect(value.jobs[0]).toMatchObject({ status: 'succeeded', attempt: 2, last_error: 'boom', finished_at: '2030-01-01T09:00:04Z' });
  });
});

describe('applyEventsToDetail', () => {
  const detail = (overrides: Partial<Job> = {}): JobDetail => ({ ...job(1, overrides), attempts: [] });

  it('keeps the attempts and asks for a refetch when the state moved', () => {
    const { value, stale } = applyEventsToDetail(detail(), [event(1, { status: 'succeeded', attempt: 1 })]);
    expect(value.status).toBe('succeeded');
    expect(value.attempts).toEqual([]);
    expect(stale).toBe(true);
  });

  it('leaves the detail alone for events about other jobs', () => {
    const d = detail();
    const { value, stale } = applyEventsToDetail(d, [event(2)]);
    expect(value).toBe(d);
    expect(stale).toBe(false);
  });
});

describe('appendToLog', () => {
  it('keeps one job’s events, without duplicates, capped at the limit', () => {
    const first = appendToLog([], [event(1), event(2), event(1)], id(1));
    expect(first).toHaveLength(1);
    const second = appendToLog(first, [event(1, { status: 'succeeded', at: '2030-01-01T09:00:06Z' })], id(1));
    expect(second.map((e) => e.status)).toEqual(['running', 'succeeded']);
    expect(appendToLog(second, [event(2)], id(1))).toBe(second);
    const capped = appendToLog(second, [event(1, { status: 'dead', at: '2030-01-01T09:00:07Z' })], id(1), 2);
    expect(capped.map((e) => e.status)).toEqual(['succeeded', 'dead']);
  });
});

describe('applyEventsToPage with other orders and cursors', () => {
  it('bounds a later page by its first row when the cursor is opaque', () => {
    const later = page([job(10), job(8)], 'p5.' + id(8));
    expect(applyEventsToPage(later, { cursor: 'p5.' + id(11) }, [event(12, { status: 'dead', attempt: 1 })]).stale).toBe(false);
    expect(applyEventsToPage(later, { cursor: 'opaque' }, [event(9, { status: 'dead', attempt: 1 })]).stale).toBe(true);
  });

  it('re-reads only the first page in priority order', () => {
    const first = page([job(10), job(8)], 'p5.' + id(8));
    expect(applyEventsToPage(first, { sort: 'priority' }, [event(3, { status: 'queued', attempt: 0 })]).stale).toBe(true);
    expect(applyEventsToPage(first, { sort: 'priority', cursor: 'p9.' + id(20) }, [event(9, { status: 'queued', attempt: 0 })]).stale).toBe(false);
  });
});

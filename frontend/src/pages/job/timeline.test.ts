import { describe, expect, it } from 'vitest';
import type { Attempt, JobDetail, StatusEvent } from '../../api/types';
import { buildTimeline } from './timeline';

const base = {
  id: 'j',
  queue: 'default',
  kind: 'shell',
  name: 'n',
  payload: {},
  priority: 5,
  attempt_base: 0,
  max_attempts: 2,
  backoff: { base_ms: 100, max_ms: 200 },
  run_at: '2030-01-01T09:00:00Z',
  created_at: '2030-01-01T09:00:00Z',
} as const;

const attempt = (n: number, outcome: Attempt['outcome'], start: string, end: string | null, error: string | null = null): Attempt => ({
  job_id: 'j',
  attempt: n,
  worker_id: `w${n}`,
  outcome,
  started_at: start,
  finished_at: end,
  error,
  output: null,
});

describe('buildTimeline', () => {
  it('tells a failing job’s story from its record: submitted, each attempt, dead', () => {
    const job = {
      ...base,
      status: 'dead',
      attempt: 2,
      last_error: 'exited with status 1',
      updated_at: '2030-01-01T09:00:03Z',
      finished_at: '2030-01-01T09:00:03Z',
      attempts: [
        attempt(2, 'failed', '2030-01-01T09:00:02Z', '2030-01-01T09:00:03Z', 'exited with status 1'),
        attempt(1, 'failed', '2030-01-01T09:00:01Z', '2030-01-01T09:00:01.5Z', 'exited with status 1'),
      ],
    } as unknown as JobDetail;
    const titles = buildTimeline(job).map((e) => e.title);
    expect(titles).toEqual(['Submitted', 'Attempt 1 started', 'Attempt 1 failed', 'Attempt 2 started', 'Attempt 2 failed', 'Dead']);
  });

  it('adds live events the record does not show yet, marked live, and drops those it does', () => {
    const job = { ...base, status: 'queued', attempt: 0, updated_at: base.created_at, finished_at: null, attempts: [] } as unknown as JobDetail;
    const live: StatusEvent[] = [
      { job_id: 'j', queue: 'default', kind: 'shell', name: 'n', status: 'queued', attempt: 0, run_at: null, error: null, at: '2030-01-01T09:00:00Z' },
      { job_id: 'j', queue: 'default', kind: 'shell', name: 'n', status: 'running', attempt: 1, run_at: null, error: null, at: '2030-01-01T09:00:01Z' },
    ];
    const entries = buildTimeline(job, live);
    expect(entries.map((e) => [e.title, e.live ?? false])).toEqual([
      ['Submitted', false],
      ['Attempt 1 started', true],
    ]);
  });

  it('shows a delayed job as scheduled at submission', () => {
    const job = { ...base, status: 'scheduled', attempt: 0, run_at: '2030-01-01T10:00:00Z', updated_at: base.created_at, finished_at: null, attempts: [] } as unknown as JobDetail;
    const [first] = buildTimeline(job);
    expect(first).toMatchObject({ status: 'scheduled', title: 'Submitted' });
    expect(first?.detail).toContain('due 2030-01-01T10:00:00Z');
  });
});

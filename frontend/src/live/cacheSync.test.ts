import { QueryClient } from '@tanstack/react-query';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keys } from '../api/queries';
import type { Job, JobDetail, JobPage, RunDetail, StatusEvent } from '../api/types';
import { CacheSync } from './cacheSync';

const job = (id: string, status: Job['status']) =>
  ({ id, status, attempt: 0, attempt_base: 0, queue: 'default', kind: 'noop', name: id, updated_at: '2030-01-01T00:00:00Z' }) as Job;
const event = (id: string, status: Job['status'], attempt = 1): StatusEvent => ({
  job_id: id,
  queue: 'default',
  kind: 'noop',
  name: id,
  status,
  attempt,
  run_at: null,
  error: null,
  at: '2030-01-01T00:00:01Z',
});

describe('CacheSync', () => {
  let client: QueryClient;
  let sync: CacheSync;
  beforeEach(() => {
    vi.useFakeTimers();
    client = new QueryClient();
    sync = new CacheSync(client);
  });
  afterEach(() => {
    sync.dispose();
    client.clear();
    vi.useRealTimers();
  });

  it('applies buffered events to every cached list and detail in one flush', () => {
    const all = keys.jobList({});
    const dead = keys.jobList({ status: 'dead' });
    client.setQueryData<JobPage>(all, { jobs: [job('b', 'queued'), job('a', 'dead')], next_cursor: null });
    client.setQueryData<JobPage>(dead, { jobs: [job('a', 'dead')], next_cursor: null });
    client.setQueryData<JobDetail>(keys.job('b'), { ...job('b', 'queued'), attempts: [] });

    sync.push([event('b', 'running')]);
    sync.push([event('a', 'queued', 0)]);
    expect(client.getQueryData<JobPage>(all)?.jobs[0]?.status).toBe('queued'); // not yet flushed
    vi.advanceTimersByTime(250);

    expect(client.getQueryData<JobPage>(all)?.jobs.map((j) => j.status)).toEqual(['running', 'queued']);
    expect(client.getQueryData<JobPage>(dead)?.jobs).toEqual([]);
    expect(client.getQueryData<JobDetail>(keys.job('b'))?.status).toBe('running');
    expect(sync.logOf('b').map((e) => e.status)).toEqual(['running']);
  });

  it('marks the counts stale when events arrive', () => {
    client.setQueryData(keys.stats(), { counts: {}, total: 0, finished_per_minute: [] });
    sync.push([event('x', 'succeeded')]);
    vi.advanceTimersByTime(250);
    expect(client.getQueryState(keys.stats())?.isInvalidated).toBe(true);
  });

  it('re-reads only what was fetched before a gap', () => {
    client.setQueryData(keys.stats(), { counts: {}, total: 0, finished_per_minute: [] });
    const before = Date.now();
    vi.advanceTimersByTime(1000);
    client.setQueryData(keys.queues(), { queues: [] });
    sync.gap(before + 500);
    expect(client.getQueryState(keys.stats())?.isInvalidated).toBe(true);
    expect(client.getQueryState(keys.queues())?.isInvalidated).toBe(false);
  });

  it('colours a cached workflow run from the events of its nodes', () => {
    const run = {
      id: 'run-1',
      status: 'running',
      nodes: [{ key: 'a', parents: [], children: [], job: job('a', 'queued') }],
    } as unknown as RunDetail;
    client.setQueryData(keys.run('run-1'), run);
    sync.push([{ ...event('a', 'running'), workflow_run_id: 'run-1', node_key: 'a' }]);
    sync.push([{ ...event('a', 'succeeded'), at: '2030-01-01T00:00:02Z', workflow_run_id: 'run-1', node_key: 'a' }]);
    vi.advanceTimersByTime(250);
    const next = client.getQueryData<RunDetail>(keys.run('run-1'));
    expect(next?.nodes[0]?.job.status).toBe('succeeded');
    expect(next?.status).toBe('succeeded');
  });
});

import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../api/client';
import type { ListParams } from '../../api/endpoints';
import type { BulkRequest, BulkResult, Job, JobPage, JobStatus } from '../../api/types';
import { actOnAllMatching, actOnAllMatchingOneByOne, actOnJobs, actOnSelection, emptyProgress, summarise, type BulkDeps } from './bulk';

const row = (id: string, status: JobStatus) => ({ id, status }) as Job;
const result = (matched: number, changed: number, more = false): BulkResult => ({ matched, changed, skipped: matched - changed, more });
const noRoute = () => new ApiError(404, 'no_route', 'no route for POST /api/v1/jobs/bulk', null);
const unused = { list: vi.fn(), act: vi.fn() } as unknown as Pick<BulkDeps, 'list' | 'act'>;

describe('actOnAllMatching (POST /jobs/bulk)', () => {
  it('asks for each status the action applies to, and again while the server says more', async () => {
    const answers: Record<string, BulkResult[]> = { dead: [result(10_000, 10_000, true), result(3, 3)], cancelled: [result(0, 0)], skipped: [result(1, 1)] };
    const bulk = vi.fn(async (request: BulkRequest) => {
      const status = request.filter?.status ?? '';
      return answers[status]?.shift() ?? result(0, 0);
    });
    const progress = await actOnAllMatching('retry', { queue: 'emails' }, { bulk, ...unused });
    expect(bulk.mock.calls.map(([r]) => ('filter' in r ? r.filter : null))).toEqual([
      { queue: 'emails', status: 'dead' },
      { queue: 'emails', status: 'dead' },
      { queue: 'emails', status: 'cancelled' },
      { queue: 'emails', status: 'skipped' },
    ]);
    expect(progress).toMatchObject({ scanned: 10_004, done: 10_004, skipped: 0, finished: true });
  });

  it('keeps the filter’s own status, and stops when a call changes nothing', async () => {
    const bulk = vi.fn(async (_request: BulkRequest) => result(10_000, 0, true));
    const progress = await actOnAllMatching('delete', { status: 'running' }, { bulk, ...unused });
    expect(bulk).toHaveBeenCalledTimes(1);
    expect(bulk.mock.calls[0]?.[0]).toEqual({ action: 'delete', filter: { status: 'running' } });
    expect(progress).toMatchObject({ done: 0, skipped: 10_000 });
    expect(summarise('delete', progress)).toBe('0 jobs deleted, 10000 skipped (not finished)');
  });

  it('falls back to one request per job on an api without the endpoint', async () => {
    const bulk = vi.fn(async () => {
      throw noRoute();
    });
    const list = vi.fn(async () => ({ jobs: [row('a', 'dead'), row('b', 'queued')], next_cursor: null }) as JobPage);
    const act = vi.fn(async () => ({}));
    const progress = await actOnAllMatching('retry', {}, { bulk, list, act });
    expect(act.mock.calls).toEqual([['retry', 'a']]);
    expect(progress).toMatchObject({ scanned: 2, done: 1, skipped: 1, finished: true });
  });
});

describe('actOnSelection', () => {
  it('sends the ids in one call', async () => {
    const bulk = vi.fn(async () => result(2, 1));
    const progress = await actOnSelection('cancel', [row('a', 'queued'), row('b', 'succeeded')], { bulk, ...unused });
    expect(bulk.mock.calls).toEqual([[{ action: 'cancel', ids: ['a', 'b'] }, undefined]]);
    expect(progress).toMatchObject({ done: 1, skipped: 1, finished: true });
  });

  it('acts job by job on an api without the endpoint', async () => {
    const act = vi.fn(async () => undefined);
    const progress = await actOnSelection('delete', [row('a', 'dead'), row('b', 'running')], {
      bulk: async () => {
        throw noRoute();
      },
      list: vi.fn(),
      act,
    });
    expect(act.mock.calls).toEqual([['delete', 'a']]);
    expect(progress).toMatchObject({ done: 1, skipped: 1 });
  });
});

describe('actOnAllMatchingOneByOne', () => {
  it('pages through the whole filter and acts only on eligible jobs', async () => {
    const pages: Record<string, JobPage> = {
      first: { jobs: [row('c', 'dead'), row('b', 'succeeded')], next_cursor: 'b' },
      b: { jobs: [row('a', 'dead')], next_cursor: null },
    };
    const list = vi.fn(async (params: ListParams) => pages[params.cursor ?? 'first'] as JobPage);
    const act = vi.fn(async () => ({}));
    const progress = await actOnAllMatchingOneByOne('retry', { status: 'dead' }, { list, act }, { pageSize: 2 });

    expect(list).toHaveBeenCalledTimes(2);
    expect(list.mock.calls[0]?.[0]).toMatchObject({ status: 'dead', limit: 2, cursor: undefined });
    expect(list.mock.calls[1]?.[0]).toMatchObject({ cursor: 'b' });
    expect(act.mock.calls.map((c) => c)).toEqual([['retry', 'c'], ['retry', 'a']]);
    expect(progress).toMatchObject({ scanned: 3, done: 2, skipped: 1, failed: 0, finished: true });
  });

  it('stops paging when aborted', async () => {
    const controller = new AbortController();
    const list = vi.fn(async () => ({ jobs: [row('x', 'queued')], next_cursor: 'x' }) as JobPage);
    const act = vi.fn(async () => {
      controller.abort();
    });
    await actOnAllMatchingOneByOne('cancel', {}, { list, act }, { signal: controller.signal });
    expect(list).toHaveBeenCalledTimes(1);
  });
});

describe('actOnJobs', () => {
  it('counts a 409 as skipped and other errors as failures', async () => {
    const act = vi.fn(async (_action: string, id: string) => {
      if (id === 'moved') throw new ApiError(409, 'conflict', 'cannot cancel a job that is succeeded', { field: 'status' });
      if (id === 'broken') throw new ApiError(500, 'internal', 'internal error', null);
      return {};
    });
    const jobs = [row('ok', 'queued'), row('moved', 'running'), row('broken', 'queued'), row('done', 'succeeded')];
    const progress = await actOnJobs('cancel', jobs, { act }, emptyProgress(), { concurrency: 2 });
    expect(progress).toMatchObject({ done: 1, skipped: 2, failed: 1, errors: ['internal error'] });
    expect(summarise('cancel', progress)).toBe('1 job cancelled, 2 skipped (not cancellable), 1 failed: internal error');
  });

  it('never has more requests in flight than the concurrency', async () => {
    let inFlight = 0;
    let most = 0;
    const act = async () => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight -= 1;
    };
    const jobs = Array.from({ length: 20 }, (_, i) => row(String(i), 'dead'));
    await actOnJobs('retry', jobs, { act }, emptyProgress(), { concurrency: 3 });
    expect(most).toBe(3);
  });
});

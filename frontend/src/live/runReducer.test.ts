import { describe, expect, it } from 'vitest';
import type { Job, RunDetail, ScheduleDetail, StatusEvent } from '../api/types';
import { applyEventsToFires, applyEventsToRun, runStatusOf } from './reducer';

const RUN = '0193b000-0000-7000-8000-00000000aaaa';
const OTHER_RUN = '0193b000-0000-7000-8000-00000000bbbb';
const jobId = (key: string) => `0193b000-0000-7000-8000-${key.padStart(12, '0')}`;

function node(key: string, status: Job['status'], parents: string[] = []) {
  return {
    key,
    parents,
    children: [],
    job: {
      id: jobId(key),
      queue: 'default',
      kind: 'noop',
      name: key,
      payload: {},
      priority: 5,
      status,
      attempt: 0,
      attempt_base: 0,
      max_attempts: 3,
      backoff: { base_ms: 1000, max_ms: 3_600_000 },
      run_at: '2030-01-01T09:00:00Z',
      created_at: '2030-01-01T09:00:00Z',
      updated_at: '2030-01-01T09:00:00Z',
      workflow_run_id: RUN,
      node_key: key,
    } as Job,
  };
}

// The diamond a → b, a → c, b → d, c → d, just started.
const diamond = (): RunDetail => ({
  id: RUN,
  workflow_id: 'w',
  workflow_name: 'diamond',
  created_at: '2030-01-01T09:00:00Z',
  status: 'running',
  nodes: [node('a', 'queued'), node('b', 'blocked', ['a']), node('c', 'blocked', ['a']), node('d', 'blocked', ['b', 'c'])],
});

let second = 0;
function event(key: string, status: Job['status'], overrides: Partial<StatusEvent> = {}): StatusEvent {
  second += 1;
  return {
    job_id: jobId(key),
    queue: 'default',
    kind: 'noop',
    name: key,
    status,
    attempt: status === 'running' || status === 'succeeded' || status === 'dead' ? 1 : 0,
    run_at: null,
    error: null,
    at: `2030-01-01T09:00:${String(second).padStart(2, '0')}Z`,
    workflow_run_id: RUN,
    node_key: key,
    ...overrides,
  };
}

const colours = (run: RunDetail) => Object.fromEntries(run.nodes.map((n) => [n.key, n.job.status]));

describe('runStatusOf', () => {
  it('derives running, succeeded, failed and cancelled as the server does', () => {
    expect(runStatusOf(['succeeded', 'running'])).toBe('running');
    expect(runStatusOf(['succeeded', 'blocked'])).toBe('running');
    expect(runStatusOf(['succeeded', 'succeeded'])).toBe('succeeded');
    expect(runStatusOf(['succeeded', 'dead', 'skipped'])).toBe('failed');
    expect(runStatusOf(['succeeded', 'cancelled', 'skipped'])).toBe('failed');
    expect(runStatusOf(['succeeded', 'cancelled'])).toBe('cancelled');
  });
});

describe('applyEventsToRun', () => {
  it('colours each node by its job as the run goes, and the run turns succeeded at the end', () => {
    let run = diamond();
    const steps: StatusEvent[][] = [
      [event('a', 'running')],
      [event('a', 'succeeded'), event('b', 'queued'), event('c', 'queued')],
      [event('b', 'running'), event('c', 'running')],
      [event('b', 'succeeded')],
      [event('c', 'succeeded'), event('d', 'queued')],
      [event('d', 'running')],
    ];
    for (const batch of steps) run = applyEventsToRun(run, batch).value;
    expect(colours(run)).toEqual({ a: 'succeeded', b: 'succeeded', c: 'succeeded', d: 'running' });
    expect(run.status).toBe('running');
    run = applyEventsToRun(run, [event('d', 'succeeded')]).value;
    expect(colours(run)).toEqual({ a: 'succeeded', b: 'succeeded', c: 'succeeded', d: 'succeeded' });
    expect(run.status).toBe('succeeded');
  });

  it('marks the run failed when a node dies and its descendants are skipped', () => {
    const run = applyEventsToRun(diamond(), [
      event('a', 'dead', { error: 'exited with status 1' }),
      event('b', 'skipped'),
      event('c', 'skipped'),
      event('d', 'skipped'),
    ]).value;
    expect(colours(run)).toEqual({ a: 'dead', b: 'skipped', c: 'skipped', d: 'skipped' });
    expect(run.nodes[0]?.job.last_error).toBe('exited with status 1');
    expect(run.status).toBe('failed');
  });

  it('ignores other runs’ events and keeps the same object when nothing changed', () => {
    const run = diamond();
    const result = applyEventsToRun(run, [event('zz', 'running', { workflow_run_id: OTHER_RUN }), event('a', 'queued')]);
    expect(result.value).toBe(run);
    expect(result.stale).toBe(false);
  });

  it('ignores an event older than what a node shows', () => {
    let run = applyEventsToRun(diamond(), [event('a', 'succeeded')]).value;
    run = applyEventsToRun(run, [event('a', 'running', { at: '2030-01-01T08:59:00Z' })]).value;
    expect(colours(run)['a']).toBe('succeeded');
  });

  it('asks for a refetch when an event of this run names a job it does not hold', () => {
    const result = applyEventsToRun(diamond(), [event('e', 'queued')]);
    expect(result.stale).toBe(true);
  });
});

describe('applyEventsToFires', () => {
  const schedule = (): ScheduleDetail =>
    ({
      id: 's',
      fires: [
        { fire_time: '2030-01-01T09:00:00Z', job_id: jobId('f1'), status: 'queued' },
        { fire_time: '2030-01-01T08:00:00Z', workflow_run_id: RUN, status: 'running' },
      ],
    }) as unknown as ScheduleDetail;

  it('shows the new status of a fire’s job', () => {
    const { value, stale } = applyEventsToFires(schedule(), [event('f1', 'succeeded', { workflow_run_id: null })]);
    expect(value.fires[0]?.status).toBe('succeeded');
    expect(stale).toBe(false);
  });

  it('asks for a refetch when a fire’s workflow run moves', () => {
    const before = schedule();
    const { value, stale } = applyEventsToFires(before, [event('a', 'succeeded')]);
    expect(value).toBe(before);
    expect(stale).toBe(true);
  });
});

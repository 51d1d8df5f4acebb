import { describe, expect, it } from 'vitest';
import type { Schedule } from '../../api/types';
import { emptyTemplate } from '../../forms/template';
import { cronProblem } from '../../forms/cron';
import { emptyScheduleForm, patchFrom, scheduleFormFrom, validateScheduleForm, type ScheduleForm } from './scheduleForm';

const NOW = Date.parse('2030-06-01T12:00:00Z');

function form(overrides: Partial<ScheduleForm> = {}): ScheduleForm {
  return {
    ...emptyScheduleForm('UTC'),
    name: 'nightly-report',
    cron: '30 2 * * *',
    template: emptyTemplate({ kind: 'shell', argv: ['/opt/report.sh'] }),
    ...overrides,
  };
}

const errorsOf = (overrides: Partial<ScheduleForm>) => validateScheduleForm(form(overrides), NOW).errors;

describe('validateScheduleForm', () => {
  it('builds the POST body of a cron schedule with a job target', () => {
    const { errors, spec } = validateScheduleForm(form({ timezone: 'Europe/Berlin', misfire: 'skip' }), NOW);
    expect(errors).toEqual({});
    expect(spec).toEqual({
      name: 'nightly-report',
      cron: '30 2 * * *',
      timezone: 'Europe/Berlin',
      misfire: 'skip',
      target: { job: { kind: 'shell', payload: { argv: ['/opt/report.sh'] } } },
    });
  });

  it('names the fields as the server does, the job’s under target.job', () => {
    expect(errorsOf({ name: ' ' })['name']).toBe('must be 1-200 characters');
    expect(errorsOf({ timezone: 'Europe/Berlinn' })['timezone']).toMatch(/unknown time zone "Europe\/Berlinn"/);
    expect(errorsOf({ cron: '' })['cron']).toMatch(/enter a cron expression/);
    expect(errorsOf({ template: emptyTemplate({ kind: 'shell', argv: [''] }) })['target.job.payload.argv']).toMatch(/non-empty array/);
    expect(errorsOf({ template: emptyTemplate({ kind: 'noop', priority: '10' }) })['target.job.priority']).toBe('must be an integer from 0 to 9');
    expect(errorsOf({ target: 'workflow', workflow: '' })['target.workflow']).toBe('pick a workflow');
  });

  it('starts a workflow when the target is one', () => {
    const { spec } = validateScheduleForm(form({ target: 'workflow', workflow: 'nightly' }), NOW);
    expect(spec?.target).toEqual({ workflow: 'nightly' });
  });

  it('reads a one-time run_at on the wall clock of the chosen zone', () => {
    const summer = validateScheduleForm(form({ timing: 'once', runAt: '2030-07-01T09:00', timezone: 'Europe/Berlin' }), NOW);
    expect(summer.spec).toMatchObject({ run_at: '2030-07-01T07:00:00Z', timezone: 'Europe/Berlin' });
    expect(summer.spec?.cron).toBeUndefined();
    // 02:30 happens twice when Berlin's clocks go back: the first, in summer time.
    const twice = validateScheduleForm(form({ timing: 'once', runAt: '2030-10-27T02:30', timezone: 'Europe/Berlin' }), NOW);
    expect(twice.spec?.run_at).toBe('2030-10-27T00:30:00Z');
  });

  it('refuses a one-time run_at in the past, or none', () => {
    expect(errorsOf({ timing: 'once', runAt: '2030-06-01T11:59' })['run_at']).toMatch(/in the past/);
    expect(errorsOf({ timing: 'once', runAt: '' })['run_at']).toBe('pick a date and time');
  });
});

describe('cronProblem', () => {
  it('accepts 5 and 6 fields and the shorthands', () => {
    for (const ok of ['30 2 * * *', '0 30 2 * * *', '0 9 * * MON-FRI', '*/15 * * * *', '@hourly', '@annually']) expect(cronProblem(ok)).toBeNull();
  });

  it('says what is wrong with the shape, in the server’s words', () => {
    expect(cronProblem('* * * *')).toMatch(/has 4 fields; expected 5/);
    expect(cronProblem('@fortnightly')).toMatch(/unknown shorthand/);
    expect(cronProblem('* * * * * * *')).toMatch(/has 7 fields/);
  });
});

describe('editing', () => {
  const stored: Schedule = {
    id: 's1',
    name: 'nightly-report',
    cron: '30 2 * * *',
    timezone: 'Europe/Berlin',
    run_at: null,
    // Stored templates come back with every field, unset ones null.
    target: { job: { kind: 'shell', queue: 'reports', payload: { argv: ['/opt/report.sh'] }, name: null, priority: null, definition: null, backoff: null } },
    misfire: 'fire_once',
    paused: false,
    next_fire_at: '2030-06-02T00:30:00Z',
    created_at: '2030-06-01T00:00:00Z',
    updated_at: '2030-06-01T00:00:00Z',
  };

  it('sends nothing when nothing changed', () => {
    const { spec } = validateScheduleForm(scheduleFormFrom(stored), NOW);
    expect(spec).not.toBeNull();
    expect(patchFrom(stored, spec!)).toEqual({});
  });

  it('sends only what changed', () => {
    const edited = { ...scheduleFormFrom(stored), cron: '0 3 * * *', misfire: 'fire_all' as const };
    const { spec } = validateScheduleForm(edited, NOW);
    expect(patchFrom(stored, spec!)).toEqual({ cron: '0 3 * * *', misfire: 'fire_all' });
  });

  it('keeps a one-time schedule’s stored run_at out of the patch, even once it has passed', () => {
    const once: Schedule = { ...stored, cron: null, run_at: '2030-06-01T11:00:00Z', next_fire_at: null };
    const form = { ...scheduleFormFrom(once), name: 'renamed' };
    expect(form.runAt).toBe('2030-06-01T13:00:00');
    const { spec } = validateScheduleForm(form, NOW, once.run_at);
    expect(patchFrom(once, spec!)).toEqual({ name: 'renamed' });
    // Moved to another past time, it is refused.
    expect(validateScheduleForm({ ...form, runAt: '2030-06-01T13:30' }, NOW, once.run_at).errors['run_at']).toMatch(/in the past/);
  });
});

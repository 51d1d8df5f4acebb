// The schedule form's state and its validation: the server's rules
// (shared/src/model/schedule) where the page can know them, reported under
// the server's field names (`cron`, `timezone`, `run_at`, `target.job.priority`),
// so a page error and a server 422 land next to the same input. The exact
// cron grammar is the server's: the preview endpoint answers for it as the
// user types.

import type { JobSpec, Misfire, Schedule, SchedulePatch, ScheduleSpec, TargetSpec } from '../../api/types';
import type { FieldErrors } from '../../forms/jobForm';
import { emptyTemplate, errorsWithPrefix, templateFromSpec, validateTemplate, type TemplateForm } from '../../forms/template';
import { cronProblem } from '../../forms/cron';
import { browserZone, isTimeZone, utcToZoned, zonedToUtc } from '../../lib/zones';

export type TimingKind = 'cron' | 'once';
export type TargetKind = 'job' | 'workflow';

export interface ScheduleForm {
  name: string;
  timing: TimingKind;
  cron: string;
  timezone: string;
  /** A datetime-local value, read on the wall clock of `timezone`. */
  runAt: string;
  misfire: Misfire;
  paused: boolean;
  target: TargetKind;
  template: TemplateForm;
  workflow: string;
}

export function emptyScheduleForm(zone: string = browserZone()): ScheduleForm {
  return {
    name: '',
    timing: 'cron',
    cron: '',
    timezone: zone,
    runAt: '',
    misfire: 'fire_once',
    paused: false,
    target: 'job',
    template: emptyTemplate(),
    workflow: '',
  };
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * Checks the form and builds the ScheduleSpec to submit (null when there are
 * errors). `now` (ms) decides whether a one-time `run_at` is in the future;
 * `kept`, an edited schedule's stored `run_at`, may have passed (the server
 * lets an edit leave it alone).
 */
export function validateScheduleForm(form: ScheduleForm, now: number, kept?: string | null): { errors: FieldErrors; spec: ScheduleSpec | null } {
  const errors: FieldErrors = {};
  if (!form.name.trim() || byteLength(form.name) > 200) errors['name'] = 'must be 1-200 characters';

  const zone = form.timezone.trim();
  if (!isTimeZone(zone)) errors['timezone'] = `unknown time zone "${zone}": expected an IANA name such as Europe/Berlin or UTC`;

  let runAt: string | null = null;
  if (form.timing === 'cron') {
    const problem = cronProblem(form.cron);
    if (problem) errors['cron'] = problem;
  } else if (!form.runAt) {
    errors['run_at'] = 'pick a date and time';
  } else if (!errors['timezone']) {
    runAt = zonedToUtc(form.runAt, zone);
    if (!runAt) errors['run_at'] = 'pick a date and time';
    else if (Date.parse(runAt) <= now && !(kept && Date.parse(kept) === Date.parse(runAt))) {
      errors['run_at'] = 'is in the past; a one-time schedule needs a future time';
    }
  }

  let target: TargetSpec | null = null;
  if (form.target === 'workflow') {
    if (!form.workflow.trim()) errors['target.workflow'] = 'pick a workflow';
    else target = { workflow: form.workflow.trim() };
  } else {
    const template = validateTemplate(form.template);
    Object.assign(errors, errorsWithPrefix(template.errors, 'target.job.'));
    if (template.spec) target = { job: template.spec };
  }

  if (Object.keys(errors).length || !target) return { errors, spec: null };
  const spec: ScheduleSpec = { name: form.name, timezone: zone, target, misfire: form.misfire };
  if (form.timing === 'cron') spec.cron = form.cron.trim();
  else spec.run_at = runAt;
  if (form.paused) spec.paused = true;
  return { errors, spec };
}

/** A form holding a stored schedule, to edit it. */
export function scheduleFormFrom(schedule: Schedule): ScheduleForm {
  const form = emptyScheduleForm(schedule.timezone);
  form.name = schedule.name;
  form.timing = schedule.cron ? 'cron' : 'once';
  form.cron = schedule.cron ?? '';
  form.runAt = schedule.run_at ? utcToZoned(schedule.run_at, schedule.timezone) : '';
  form.misfire = schedule.misfire;
  form.paused = schedule.paused;
  if ('workflow' in schedule.target) {
    form.target = 'workflow';
    form.workflow = schedule.target.workflow;
  } else {
    form.template = templateFromSpec(schedule.target.job);
  }
  return form;
}

/** Stable JSON: keys sorted, nulls and undefined left out. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .filter(([, x]) => x !== null && x !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : 1)),
      );
    }
    return v;
  });
}

/**
 * The PATCH for an edit: only what changed, so a one-time schedule's stored
 * `run_at` (which may have passed) is not sent back and refused, and the
 * pending fire is kept unless the time changed.
 */
export function patchFrom(original: Schedule, spec: ScheduleSpec): SchedulePatch {
  const patch: SchedulePatch = {};
  if (spec.name !== original.name) patch.name = spec.name;
  const zone = spec.timezone ?? 'UTC';
  if (zone !== original.timezone) patch.timezone = zone;
  if (spec.cron) {
    if (spec.cron !== original.cron) patch.cron = spec.cron;
  } else if (spec.run_at) {
    const same = original.run_at !== null && original.run_at !== undefined && Date.parse(original.run_at) === Date.parse(spec.run_at);
    if (!same) patch.run_at = spec.run_at;
  }
  if (canonical(spec.target) !== canonical(original.target)) patch.target = spec.target;
  if ((spec.misfire ?? 'fire_once') !== original.misfire) patch.misfire = spec.misfire ?? 'fire_once';
  return patch;
}

/** What a schedule's target makes, for lists. */
export function targetOf(target: TargetSpec): { kind: 'job'; spec: JobSpec } | { kind: 'workflow'; name: string } {
  return 'workflow' in target ? { kind: 'workflow', name: target.workflow } : { kind: 'job', spec: target.job };
}

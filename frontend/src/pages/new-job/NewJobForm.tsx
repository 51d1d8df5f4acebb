import clsx from 'clsx';
import { Clock } from 'lucide-react';
import { useMemo, useState, type FormEvent } from 'react';
import { ApiError } from '../../api/client';
import type { Job, JobSpec, ScheduleDetail, ScheduleSpec } from '../../api/types';
import { CodeBlock } from '../../components/CodeBlock';
import { Button } from '../../components/ui';
import { Field, fieldId, inputCls, TextInput } from '../../forms/fields';
import { FormSection, KindFields, SettingsFields, type SetField } from '../../forms/JobFields';
import { emptyForm, fieldMessage, validateJobForm, type DelayUnit, type FieldErrors, type JobForm, type When } from '../../forms/jobForm';
import { ScheduleTimeFields } from '../../forms/ScheduleTimeFields';

const WHEN: { value: When; label: string }[] = [
  { value: 'now', label: 'Now' },
  { value: 'at', label: 'At a time' },
  { value: 'delay', label: 'After a delay' },
  { value: 'cron', label: 'On a schedule' },
];

export interface NewJobFormProps {
  initial?: JobForm;
  knownQueues?: readonly string[];
  knownKinds?: readonly string[];
  onSubmit: (spec: JobSpec) => Promise<Job>;
  onCreated?: (job: Job) => void;
  /** Repeating jobs become schedules; without this the option is off. */
  onSchedule?: (spec: ScheduleSpec) => Promise<ScheduleDetail>;
  onScheduled?: (schedule: ScheduleDetail) => void;
}

/** A schedule's 422 names `target.job.priority`; this form calls it `priority`. */
function scheduleField(field: string): string {
  return field.startsWith('target.job.') ? field.slice('target.job.'.length) : field;
}

export function NewJobForm({ initial, knownQueues = [], knownKinds = [], onSubmit, onCreated, onSchedule, onScheduled }: NewJobFormProps) {
  const [form, setForm] = useState<JobForm>(() => initial ?? emptyForm());
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [showJson, setShowJson] = useState(false);

  const { errors: clientErrors, spec } = useMemo(() => validateJobForm(form), [form]);
  // Client errors show once the user tried to submit; server errors until the field changes.
  const errors: FieldErrors = { ...(submitted ? clientErrors : {}), ...serverErrors };
  const repeating = form.when === 'cron';
  const scheduleSpec: ScheduleSpec | null =
    repeating && spec ? { name: form.name, cron: form.cron.trim(), timezone: form.timezone.trim(), target: { job: spec } } : null;

  const set: SetField = (key, value, ...fields) => {
    setForm((f) => ({ ...f, [key]: value }));
    if (fields.length) {
      setServerErrors((e) => {
        const next = { ...e };
        for (const field of fields) delete next[field];
        return next;
      });
    }
  };

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    setGeneral(null);
    if (!spec) {
      const first = Object.keys(clientErrors)[0];
      if (first) document.getElementById(fieldId(first))?.focus();
      return;
    }
    setBusy(true);
    try {
      if (scheduleSpec && onSchedule) onScheduled?.(await onSchedule(scheduleSpec));
      else onCreated?.(await onSubmit(spec));
    } catch (e) {
      if (e instanceof ApiError && e.field) {
        const field = repeating ? scheduleField(e.field) : e.field;
        setServerErrors({ [field]: fieldMessage(e.field, e.message) });
        setGeneral(`The server rejected the ${repeating ? 'schedule' : 'job'}: ${e.message}`);
      } else {
        setGeneral(e instanceof Error ? e.message : String(e));
      }
    } finally {
      setBusy(false);
    }
  }

  const err = (field: string) => errors[field];

  return (
    <form onSubmit={submit} noValidate className="rounded-xl border border-slate-200 bg-white shadow-sm" aria-label="New job">
      <FormSection title="What to run" description="The kind picks the executor; its fields become the payload.">
        <KindFields form={form} set={set} err={err} knownKinds={knownKinds} />
      </FormSection>

      <FormSection title="Where and how" description="Queue, a label, priority and what happens when it fails.">
        <SettingsFields form={form} set={set} err={err} knownQueues={knownQueues} />
      </FormSection>

      <FormSection title="When" description="Run as soon as a worker is free, at a set time, after a delay, or repeatedly on a cron expression.">
        <div role="radiogroup" aria-label="When" className="inline-flex rounded-lg bg-slate-100 p-1">
          {WHEN.map((w) => {
            const off = w.value === 'cron' && !onSchedule;
            return (
              <button
                key={w.value}
                type="button"
                role="radio"
                aria-checked={form.when === w.value}
                data-testid={`when-${w.value}`}
                disabled={off}
                title={off ? 'Repeating jobs need the Schedules api' : undefined}
                onClick={() => set('when', w.value, 'run_at', 'delay_ms', 'cron', 'timezone')}
                className={clsx(
                  'rounded-md px-3 py-1.5 text-sm font-medium',
                  form.when === w.value ? 'bg-white text-slate-900 shadow-sm' : 'text-slate-600 hover:text-slate-900',
                  off && 'cursor-not-allowed text-slate-400 hover:text-slate-400',
                )}
              >
                {w.label}
              </button>
            );
          })}
        </div>
        {form.when === 'at' && (
          <Field field="run_at" label="Run at (your local time)" error={err('run_at')}>
            <TextInput field="run_at" type="datetime-local" step={1} value={form.runAt} onChange={(e) => set('runAt', e.target.value, 'run_at')} error={err('run_at')} className="w-64" />
          </Field>
        )}
        {form.when === 'delay' && (
          <Field field="delay_ms" label="Delay" error={err('delay_ms')}>
            <div className="flex w-72 gap-2">
              <TextInput field="delay_ms" type="number" min={0} value={form.delay} placeholder="30" onChange={(e) => set('delay', e.target.value, 'delay_ms')} error={err('delay_ms')} />
              <select aria-label="Delay unit" value={form.delayUnit} onChange={(e) => set('delayUnit', e.target.value as DelayUnit, 'delay_ms')} className={inputCls('w-32')}>
                <option value="ms">milliseconds</option>
                <option value="s">seconds</option>
                <option value="m">minutes</option>
                <option value="h">hours</option>
              </select>
            </div>
          </Field>
        )}
        {repeating && (
          <>
            <p className="text-sm text-slate-500">
              Creates a schedule named after the job; each fire submits one job like this one. Pause, edit and see its fires on the Schedules page.
            </p>
            <ScheduleTimeFields
              value={{ timing: 'cron', cron: form.cron, timezone: form.timezone, runAt: '' }}
              onChange={(change, fields) => {
                if (change.cron !== undefined) set('cron', change.cron, ...fields);
                if (change.timezone !== undefined) set('timezone', change.timezone, ...fields);
              }}
              errors={errors}
              runAtIso={null}
              allowOnce={false}
            />
          </>
        )}
        {form.when === 'now' && (
          <p className="flex items-center gap-1.5 text-sm text-slate-500">
            <Clock className="size-4" /> The job is queued at once.
          </p>
        )}
      </FormSection>

      {general && (
        <div role="alert" data-testid="form-error" className="mx-6 mb-2 rounded-lg border border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-800">
          {general}
        </div>
      )}
      {submitted && !spec && (
        <p role="alert" className="mx-6 mb-2 text-sm font-medium text-rose-600">
          Fix the {Object.keys(clientErrors).length === 1 ? 'field' : `${Object.keys(clientErrors).length} fields`} marked in red.
        </p>
      )}
      {showJson && spec && (
        <div className="px-6 pb-2">
          <p className="mb-1 text-xs font-medium text-slate-500">{scheduleSpec ? 'POST /api/v1/schedules' : 'POST /api/v1/jobs'}</p>
          <CodeBlock value={scheduleSpec ?? spec} testId="spec-preview" maxHeight="max-h-64" />
        </div>
      )}
      <div className="flex items-center justify-between gap-3 rounded-b-xl border-t border-slate-100 bg-slate-50 px-6 py-4">
        <button type="button" onClick={() => setShowJson((s) => !s)} className="text-sm font-medium text-slate-500 hover:text-slate-800">
          {showJson ? 'Hide' : 'Show'} request JSON
        </button>
        <Button type="submit" variant="primary" need={repeating ? 'admin' : 'submit'} busy={busy} data-testid="submit-job">
          {repeating ? 'Create schedule' : 'Submit job'}
        </Button>
      </div>
    </form>
  );
}

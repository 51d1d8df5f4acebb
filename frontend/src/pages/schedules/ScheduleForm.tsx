import clsx from 'clsx';
import { useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { ListChecks, Waypoints } from 'lucide-react';
import { ApiError } from '../../api/client';
import type { Misfire, ScheduleDetail, ScheduleSpec } from '../../api/types';
import { MISFIRE_POLICIES } from '../../api/types';
import { CodeBlock } from '../../components/CodeBlock';
import { Button } from '../../components/ui';
import { Field, FieldScope, fieldId, inputClass, TextInput } from '../../forms/fields';
import { FormSection } from '../../forms/JobFields';
import { fieldMessage, type FieldErrors } from '../../forms/jobForm';
import { ScheduleTimeFields } from '../../forms/ScheduleTimeFields';
import { errorsWithin } from '../../forms/template';
import { TemplateEditor } from '../../forms/TemplateEditor';
import { zonedToUtc } from '../../lib/zones';
import { MISFIRE_TEXT } from './parts';
import { validateScheduleForm, type ScheduleForm as Form } from './scheduleForm';

export interface ScheduleFormProps {
  initial: Form;
  editing: boolean;
  /** An edited one-time schedule's stored run_at, which may have passed. */
  keptRunAt?: string | null | undefined;
  /** What is sent for a valid form (an edit sends only what changed). */
  requestBody?: (spec: ScheduleSpec) => unknown;
  onSubmit: (spec: ScheduleSpec) => Promise<ScheduleDetail>;
  onSaved: (detail: ScheduleDetail) => void;
  definitions?: readonly string[] | undefined;
  workflows?: readonly string[] | undefined;
  knownQueues?: readonly string[];
  knownKinds?: readonly string[];
}

export function ScheduleForm({ initial, editing, keptRunAt, requestBody = (spec) => spec, onSubmit, onSaved, definitions, workflows, knownQueues = [], knownKinds = [] }: ScheduleFormProps) {
  const [form, setForm] = useState<Form>(initial);
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [showJson, setShowJson] = useState(false);

  // `now` moves on each check, so a run_at that passed while the page was open is caught.
  const { errors: clientErrors, spec } = useMemo(() => validateScheduleForm(form, Date.now(), keptRunAt), [form, keptRunAt]);
  const errors: FieldErrors = { ...(submitted ? clientErrors : {}), ...serverErrors };
  const err = (field: string) => errors[field];

  const update = (change: Partial<Form>, fields: string[]) => {
    setForm((f) => ({ ...f, ...change }));
    setServerErrors((e) => {
      const next = { ...e };
      for (const field of fields) delete next[field];
      return next;
    });
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
      onSaved(await onSubmit(spec));
    } catch (e) {
      if (e instanceof ApiError && e.field) {
        setServerErrors({ [e.field]: fieldMessage(e.field, e.message) });
        setGeneral(`The server rejected the schedule: ${e.message}`);
      } else {
        setGeneral(e instanceof Error ? e.message : String(e));
      }
    } finally {
      setBusy(false);
    }
  }

  const runAtIso = form.timing === 'once' && form.runAt ? zonedToUtc(form.runAt, form.timezone.trim()) : null;

  return (
    <form onSubmit={submit} noValidate aria-label={editing ? 'Edit schedule' : 'New schedule'} className="rounded-xl border border-slate-200 bg-white shadow-sm">
      <FormSection title="Schedule" description="Its name is also the name of the jobs it makes, unless the job names them.">
        <Field field="name" label="Name" hint="Unique; 1–200 characters." error={err('name')}>
          <TextInput field="name" value={form.name} placeholder="nightly-report" onChange={(e) => update({ name: e.target.value }, ['name'])} error={err('name')} />
        </Field>
        {!editing && (
          <label className="flex items-center gap-2 text-sm text-slate-700">
            <input type="checkbox" className="size-4 rounded border-slate-300 accent-indigo-600" checked={form.paused} onChange={(e) => update({ paused: e.target.checked }, [])} />
            Create it paused (it fires once resumed)
          </label>
        )}
      </FormSection>

      <FormSection title="When" description="A cron expression read on a time zone's wall clock, or a single time. The next fire times come from the server as you type.">
        <ScheduleTimeFields
          value={{ timing: form.timing, cron: form.cron, timezone: form.timezone, runAt: form.runAt }}
          onChange={(change, fields) => update(change, fields)}
          errors={errors}
          runAtIso={runAtIso}
        />
      </FormSection>

      <FormSection title="Missed fires" description="What happens to fire times missed while nothing ran, or while the schedule was paused.">
        <div role="radiogroup" aria-label="Misfire policy" className="grid gap-2 sm:grid-cols-3">
          {MISFIRE_POLICIES.map((policy: Misfire) => (
            <button
              key={policy}
              type="button"
              role="radio"
              aria-checked={form.misfire === policy}
              data-testid={`misfire-${policy}`}
              onClick={() => update({ misfire: policy }, ['misfire'])}
              className={clsx(
                'rounded-lg border px-3 py-2.5 text-left transition-colors',
                form.misfire === policy ? 'border-indigo-500 bg-indigo-50/60 ring-1 ring-indigo-500' : 'border-slate-200 hover:border-slate-300 hover:bg-slate-50',
              )}
            >
              <span className="block text-sm font-medium text-slate-800">
                {MISFIRE_TEXT[policy].label} <code className="ml-1 font-mono text-[0.7rem] text-slate-400">{policy}</code>
              </span>
              <span className="mt-0.5 block text-xs text-slate-500">{MISFIRE_TEXT[policy].hint}</span>
            </button>
          ))}
        </div>
      </FormSection>

      <FormSection title="Each fire makes" description="A job from a template (its own fields, or a definition's), or a run of a workflow.">
        <div role="radiogroup" aria-label="Target" className="inline-flex rounded-lg bg-slate-100 p-1">
          {(
            [
              ['job', 'A job', ListChecks],
              ['workflow', 'A workflow run', Waypoints],
            ] as const
          ).map(([target, label, Icon]) => (
            <button
              key={target}
              type="button"
              role="radio"
              aria-checked={form.target === target}
              data-testid={`target-${target}`}
              onClick={() => update({ target }, ['target.workflow'])}
              className={clsx(
                'inline-flex items-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium',
                form.target === target ? 'bg-white text-slate-900 shadow-sm' : 'text-slate-600 hover:text-slate-900',
              )}
            >
              <Icon className="size-3.5" aria-hidden /> {label}
            </button>
          ))}
        </div>
        {form.target === 'workflow' && (
          <Field
            field="target.workflow"
            label="Workflow"
            hint={
              workflows && workflows.length === 0 ? (
                <>
                  No workflows yet: <Link className="font-medium text-indigo-600" to="/workflows/new">create one</Link>.
                </>
              ) : (
                'Each fire starts one run of it.'
              )
            }
            error={err('target.workflow')}
          >
            <select
              id={fieldId('target.workflow')}
              value={form.workflow}
              aria-invalid={err('target.workflow') ? true : undefined}
              onChange={(e) => update({ workflow: e.target.value }, ['target.workflow'])}
              className={inputClass}
            >
              <option value="">Choose a workflow…</option>
              {[...new Set([...(workflows ?? []), ...(form.workflow ? [form.workflow] : [])])].map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </Field>
        )}
      </FormSection>
      {form.target === 'job' && (
        <FieldScope prefix="target.job.">
          <TemplateEditor
            value={form.template}
            onChange={(template, fields) => update({ template }, fields.map((f) => `target.job.${f}`))}
            errors={errorsWithin(errors, 'target.job.')}
            definitions={definitions}
            knownQueues={knownQueues}
            knownKinds={knownKinds}
            nameHint="Defaults to the schedule's name."
          />
        </FieldScope>
      )}

      {general && (
        <div role="alert" data-testid="form-error" className="mx-6 mt-4 mb-2 rounded-lg border border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-800">
          {general}
        </div>
      )}
      {submitted && !spec && (
        <p role="alert" className="mx-6 mt-4 mb-2 text-sm font-medium text-rose-600">
          Fix the {Object.keys(clientErrors).length === 1 ? 'field' : `${Object.keys(clientErrors).length} fields`} marked in red.
        </p>
      )}
      {showJson && spec && (
        <div className="px-6 pb-2">
          <p className="mb-1 text-xs font-medium text-slate-500">{editing ? 'PATCH /api/v1/schedules/{id} (the fields that changed)' : 'POST /api/v1/schedules'}</p>
          <CodeBlock value={requestBody(spec)} testId="spec-preview" maxHeight="max-h-64" />
        </div>
      )}
      <div className="flex items-center justify-between gap-3 rounded-b-xl border-t border-slate-100 bg-slate-50 px-6 py-4">
        <button type="button" onClick={() => setShowJson((s) => !s)} className="text-sm font-medium text-slate-500 hover:text-slate-800">
          {showJson ? 'Hide' : 'Show'} request JSON
        </button>
        <Button type="submit" variant="primary" need="admin" busy={busy} data-testid="submit-schedule">
          {editing ? 'Save changes' : 'Create schedule'}
        </Button>
      </div>
    </form>
  );
}

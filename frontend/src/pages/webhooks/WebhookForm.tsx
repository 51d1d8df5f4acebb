// Create or edit a webhook: URL, events, filters by queue and workflow, a
// description. The server's 422 is shown at the field it names.
import clsx from 'clsx';
import { useState, type FormEvent } from 'react';
import { ApiError } from '../../api/client';
import { WEBHOOK_EVENTS, type WebhookEvent, type WebhookSpec } from '../../api/types';
import { CodeBlock } from '../../components/CodeBlock';
import { Button } from '../../components/ui';
import { Field, FieldError, fieldId, inputClass, TextInput } from '../../forms/fields';
import { FormSection } from '../../forms/JobFields';
import { fieldMessage, type FieldErrors } from '../../forms/jobForm';
import { EVENT_TEXT, formField, parseList, validateWebhookForm, type WebhookForm as Form } from './webhookForm';

export interface WebhookFormProps {
  initial: Form;
  editing: boolean;
  /** What is sent for a valid form (an edit sends only what changed). */
  requestBody?: (spec: WebhookSpec) => unknown;
  onSubmit: (spec: WebhookSpec) => Promise<unknown>;
  knownQueues?: readonly string[];
  /** The workflows to filter by: id and name. */
  workflows?: readonly { id: string; name: string }[] | undefined;
}

export function WebhookForm({ initial, editing, requestBody = (spec) => spec, onSubmit, knownQueues = [], workflows }: WebhookFormProps) {
  const [form, setForm] = useState<Form>(initial);
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [showJson, setShowJson] = useState(false);

  const { errors: clientErrors, spec } = validateWebhookForm(form);
  const errors: FieldErrors = { ...(submitted ? clientErrors : {}), ...serverErrors };
  const err = (field: string) => errors[field];

  const update = (change: Partial<Form>, field: string) => {
    setForm((f) => ({ ...f, ...change }));
    setServerErrors(({ [field]: _gone, ...rest }) => rest);
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
      await onSubmit(spec);
    } catch (e) {
      const field = e instanceof ApiError ? formField(e.field) : null;
      if (e instanceof ApiError && e.field && field) {
        setServerErrors({ [field]: fieldMessage(e.field, e.message) });
        setGeneral(`The server rejected the webhook: ${e.message}`);
        document.getElementById(fieldId(field))?.focus();
      } else {
        setGeneral(e instanceof Error ? e.message : String(e));
      }
    } finally {
      setBusy(false);
    }
  }

  const queues = parseList(form.queues);
  const suggestions = knownQueues.filter((q) => !queues.includes(q));
  const knownIds = new Set((workflows ?? []).map((w) => w.id));
  const strayIds = form.workflowIds.filter((id) => !knownIds.has(id));
  const toggleWorkflow = (id: string, on: boolean) =>
    update({ workflowIds: on ? [...form.workflowIds, id] : form.workflowIds.filter((x) => x !== id) }, 'workflow_ids');

  return (
    <form onSubmit={submit} noValidate aria-label={editing ? 'Edit webhook' : 'New webhook'} className="rounded-xl border border-slate-200 bg-white shadow-sm">
      <FormSection
        title="Endpoint"
        description="Conveyor POSTs a JSON body to this address, signed with the webhook's secret, and retries with backoff until it answers 2xx."
      >
        <Field field="url" label="URL" error={err('url')} hint="http:// or https://">
          <TextInput
            field="url"
            type="url"
            inputMode="url"
            spellCheck={false}
            className="font-mono"
            value={form.url}
            placeholder="https://hooks.example.com/conveyor"
            onChange={(e) => update({ url: e.target.value }, 'url')}
            error={err('url')}
          />
        </Field>
        <Field field="description" label="Description" error={err('description')} hint="Optional: what receives it, who to ask.">
          <textarea
            id={fieldId('description')}
            rows={2}
            value={form.description}
            aria-invalid={err('description') ? true : undefined}
            onChange={(e) => update({ description: e.target.value }, 'description')}
            className={inputClass}
          />
        </Field>
        <label className="flex items-center gap-2 text-sm text-slate-700">
          <input
            type="checkbox"
            data-testid="webhook-enabled"
            className="size-4 rounded border-slate-300 accent-indigo-600"
            checked={form.enabled}
            onChange={(e) => update({ enabled: e.target.checked }, 'enabled')}
          />
          Enabled (a disabled webhook keeps its settings and sends nothing)
        </label>
      </FormSection>

      <FormSection title="Events" description="What is sent. A test delivery (“ping”) can be sent at any time from the webhook's page.">
        <fieldset id={fieldId('events')} tabIndex={-1} aria-invalid={err('events') ? true : undefined} className="space-y-2">
          <legend className="sr-only">Events</legend>
          {WEBHOOK_EVENTS.map((event: WebhookEvent) => (
            <label
              key={event}
              className={clsx(
                'flex items-start gap-2.5 rounded-lg border px-3 py-2.5',
                form.events.includes(event) ? 'border-indigo-300 bg-indigo-50/50' : 'border-slate-200',
                err('events') && 'border-rose-300',
              )}
            >
              <input
                type="checkbox"
                data-testid={`event-${event}`}
                aria-label={event}
                className="mt-0.5 size-4 rounded border-slate-300 accent-indigo-600"
                checked={form.events.includes(event)}
                onChange={(e) => update({ events: e.target.checked ? [...form.events, event] : form.events.filter((x) => x !== event) }, 'events')}
              />
              <span>
                <code className="font-mono text-sm font-medium text-slate-800">{event}</code>
                <span className="block text-xs text-slate-500">{EVENT_TEXT[event]}</span>
              </span>
            </label>
          ))}
          <FieldError field="events" error={err('events')} />
        </fieldset>
      </FormSection>

      <FormSection title="Filters" description="Narrow what is sent. Empty filters send the chosen events of every queue and workflow.">
        <Field field="queues" label="Queues" error={err('queues')} hint="Only jobs in these queues; separate names with commas. Empty: every queue.">
          <TextInput
            field="queues"
            spellCheck={false}
            className="font-mono"
            value={form.queues}
            placeholder="default, emails"
            onChange={(e) => update({ queues: e.target.value }, 'queues')}
            error={err('queues')}
          />
        </Field>
        {suggestions.length > 0 && (
          <div className="-mt-3 flex flex-wrap items-center gap-1.5 text-xs text-slate-500">
            Add:
            {suggestions.slice(0, 12).map((q) => (
              <button
                key={q}
                type="button"
                onClick={() => update({ queues: [...queues, q].join(', ') }, 'queues')}
                className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-slate-700 hover:bg-indigo-50 hover:text-indigo-700"
              >
                {q}
              </button>
            ))}
          </div>
        )}
        <div>
          <p className="block text-sm font-medium text-slate-700">Workflows</p>
          <div id={fieldId('workflow_ids')} tabIndex={-1} className="mt-1 max-h-56 space-y-1 overflow-y-auto rounded-md p-1 ring-1 ring-slate-200 ring-inset" data-testid="workflow-filter">
            {workflows === undefined ? (
              <p className="px-2 py-1.5 text-sm text-slate-400">Loading workflows…</p>
            ) : workflows.length === 0 && strayIds.length === 0 ? (
              <p className="px-2 py-1.5 text-sm text-slate-400">No workflows yet.</p>
            ) : (
              <>
                {workflows.map((w) => (
                  <label key={w.id} className="flex items-center gap-2 rounded px-2 py-1 text-sm hover:bg-slate-50">
                    <input
                      type="checkbox"
                      className="size-4 rounded border-slate-300 accent-indigo-600"
                      checked={form.workflowIds.includes(w.id)}
                      onChange={(e) => toggleWorkflow(w.id, e.target.checked)}
                    />
                    <span className="font-mono text-[0.8rem] text-slate-800">{w.name}</span>
                  </label>
                ))}
                {strayIds.map((id) => (
                  <label key={id} className="flex items-center gap-2 rounded px-2 py-1 text-sm hover:bg-slate-50" title="No workflow of this id is listed (deleted?)">
                    <input type="checkbox" className="size-4 rounded border-slate-300 accent-indigo-600" checked onChange={(e) => toggleWorkflow(id, e.target.checked)} />
                    <span className="font-mono text-[0.8rem] text-slate-500">{id}</span>
                    <span className="text-xs text-amber-700">not found</span>
                  </label>
                ))}
              </>
            )}
          </div>
          {err('workflow_ids') ? (
            <FieldError field="workflow_ids" error={err('workflow_ids')} />
          ) : (
            <p className="mt-1 text-xs text-slate-500">Only runs of these workflows and their jobs. None ticked: every workflow, and jobs outside workflows.</p>
          )}
        </div>
      </FormSection>

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
          <p className="mb-1 text-xs font-medium text-slate-500">{editing ? 'PATCH /api/v1/webhooks/{id} (the fields that changed)' : 'POST /api/v1/webhooks'}</p>
          <CodeBlock value={requestBody(spec)} testId="spec-preview" maxHeight="max-h-64" />
        </div>
      )}
      <div className="flex items-center justify-between gap-3 rounded-b-xl border-t border-slate-100 bg-slate-50 px-6 py-4">
        <button type="button" onClick={() => setShowJson((s) => !s)} className="text-sm font-medium text-slate-500 hover:text-slate-800">
          {showJson ? 'Hide' : 'Show'} request JSON
        </button>
        <Button type="submit" variant="primary" busy={busy} need="admin" data-testid="submit-webhook">
          {editing ? 'Save changes' : 'Create webhook'}
        </Button>
      </div>
    </form>
  );
}

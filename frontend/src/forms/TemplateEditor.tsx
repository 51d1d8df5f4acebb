// Edits a job template: the job's own fields (as in New job), or a
// definition's name with overrides.
import clsx from 'clsx';
import { BookMarked, ListChecks } from 'lucide-react';
import { Link } from 'react-router';
import type { ReactNode } from 'react';
import { Field, fieldId, useScoped, inputClass, TextInput } from './fields';
import { FormSection, KindFields, SettingsFields, type SetField } from './JobFields';
import type { FieldErrors, JobForm } from './jobForm';
import type { Overrides, TemplateForm, TemplateSource } from './template';

export interface TemplateEditorProps {
  value: TemplateForm;
  /** `fields`: the server field names the change touches (their server errors go). */
  onChange: (next: TemplateForm, fields: string[]) => void;
  errors: FieldErrors;
  /** Names of the stored definitions; undefined while loading or unavailable. */
  definitions?: readonly string[] | undefined;
  knownQueues?: readonly string[];
  knownKinds?: readonly string[];
  nameHint?: string;
  /** Sections (a page-wide form) or stacked (a side panel). */
  layout?: 'sections' | 'stacked';
  /** Definitions cannot refer to another. */
  allowDefinition?: boolean;
}

function Stacked({ title, children }: { title: string; description?: ReactNode; children: ReactNode }) {
  return (
    <div className="space-y-4 border-b border-slate-100 pb-5 last:border-0 last:pb-0">
      <h3 className="text-xs font-semibold uppercase tracking-wider text-slate-500">{title}</h3>
      {children}
    </div>
  );
}

export function TemplateEditor({
  value,
  onChange,
  errors,
  definitions,
  knownQueues = [],
  knownKinds = [],
  nameHint,
  layout = 'sections',
  allowDefinition = true,
}: TemplateEditorProps) {
  const err = (field: string) => errors[field];
  const scoped = useScoped();
  const set: SetField = <K extends keyof JobForm>(key: K, v: JobForm[K], ...fields: string[]) =>
    onChange({ ...value, job: { ...value.job, [key]: v } }, fields);
  const setOverride = (key: keyof Overrides, v: string, field: string) =>
    onChange({ ...value, overrides: { ...value.overrides, [key]: v } }, [field]);
  const setSource = (source: TemplateSource) => onChange({ ...value, source }, ['definition', 'kind']);
  const Wrap = layout === 'sections' ? FormSection : Stacked;

  const sourcePicker = allowDefinition && (
    <div role="radiogroup" aria-label="Template source" className="inline-flex rounded-lg bg-slate-100 p-1">
      {(
        [
          ['fields', 'Job fields', ListChecks],
          ['definition', 'From a definition', BookMarked],
        ] as const
      ).map(([source, label, Icon]) => (
        <button
          key={source}
          type="button"
          role="radio"
          aria-checked={value.source === source}
          data-testid={`source-${source}`}
          onClick={() => setSource(source)}
          className={clsx(
            'inline-flex items-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium',
            value.source === source ? 'bg-white text-slate-900 shadow-sm' : 'text-slate-600 hover:text-slate-900',
          )}
        >
          <Icon className="size-3.5" aria-hidden /> {label}
        </button>
      ))}
    </div>
  );

  if (value.source === 'definition') {
    const o = value.overrides;
    return (
      <Wrap title="What to run" description="A stored definition, with any field overridden for this job.">
        {sourcePicker}
        <Field
          field="definition"
          label="Definition"
          hint={
            definitions && definitions.length === 0 ? (
              <>
                No definitions yet: <Link className="font-medium text-indigo-600" to="/definitions/new">create one</Link>.
              </>
            ) : (
              'Its fields are read at each run, so later edits of the definition apply.'
            )
          }
          error={err('definition')}
        >
          <select
            id={fieldId(scoped('definition'))}
            value={value.definition}
            aria-invalid={err('definition') ? true : undefined}
            onChange={(e) => onChange({ ...value, definition: e.target.value }, ['definition'])}
            className={inputClass}
          >
            <option value="">Choose a definition…</option>
            {[...new Set([...(definitions ?? []), ...(value.definition ? [value.definition] : [])])].map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </Field>
        <div className="grid gap-4 sm:grid-cols-2">
          <Field field="name" label="Name (override)" error={err('name')}>
            <TextInput field="name" value={o.name} placeholder="from the definition" onChange={(e) => setOverride('name', e.target.value, 'name')} error={err('name')} />
          </Field>
          <Field field="queue" label="Queue (override)" error={err('queue')}>
            <TextInput field="queue" list="known-queues" value={o.queue} placeholder="from the definition" onChange={(e) => setOverride('queue', e.target.value, 'queue')} error={err('queue')} className="font-mono" />
            <datalist id="known-queues">
              {knownQueues.map((q) => (
                <option key={q} value={q} />
              ))}
            </datalist>
          </Field>
          <Field field="priority" label="Priority (override)" error={err('priority')}>
            <TextInput field="priority" type="number" min={0} max={9} value={o.priority} placeholder="from the definition" onChange={(e) => setOverride('priority', e.target.value, 'priority')} error={err('priority')} />
          </Field>
          <Field field="max_attempts" label="Max attempts (override)" error={err('max_attempts')}>
            <TextInput field="max_attempts" type="number" min={1} value={o.maxAttempts} placeholder="from the definition" onChange={(e) => setOverride('maxAttempts', e.target.value, 'max_attempts')} error={err('max_attempts')} />
          </Field>
          <Field field="timeout_secs" label="Timeout in s (override)" error={err('timeout_secs')}>
            <TextInput field="timeout_secs" type="number" min={1} value={o.timeoutSecs} placeholder="from the definition" onChange={(e) => setOverride('timeoutSecs', e.target.value, 'timeout_secs')} error={err('timeout_secs')} />
          </Field>
        </div>
        <Field field="payload" label="Payload overrides (JSON object)" hint="Merged into the definition's payload key by key; these keys win." error={err('payload')}>
          <textarea
            id={fieldId(scoped('payload'))}
            rows={4}
            value={o.payload}
            placeholder='{"argv": ["./other.sh"]}'
            aria-invalid={err('payload') ? true : undefined}
            onChange={(e) => setOverride('payload', e.target.value, 'payload')}
            className={clsx(inputClass, 'font-mono')}
          />
        </Field>
      </Wrap>
    );
  }

  return (
    <>
      <Wrap title="What to run" description="The kind picks the executor; its fields become the payload.">
        {sourcePicker}
        <KindFields form={value.job} set={set} err={err} knownKinds={knownKinds} />
      </Wrap>
      <Wrap title="Where and how" description="Queue, a label, priority and what happens when it fails.">
        <SettingsFields form={value.job} set={set} err={err} knownQueues={knownQueues} template {...(nameHint ? { nameHint } : {})} />
      </Wrap>
    </>
  );
}

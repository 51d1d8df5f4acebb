// The fields of a job, shared by every form that makes one: New job, a
// schedule's job target, a workflow's nodes and a definition's template.
import clsx from 'clsx';
import { Globe, Hourglass, Puzzle, Terminal, Zap } from 'lucide-react';
import type { ComponentType, ReactNode } from 'react';
import { Field, FieldError, fieldId, useScoped, inputClass, ListEditor, PairsEditor, TextInput } from './fields';
import { BUILTIN_KIND_NAMES, HTTP_METHODS, type JobForm } from './jobForm';

export const KINDS: { value: JobForm['kind']; label: string; icon: ComponentType<{ className?: string }>; hint: string }[] = [
  { value: 'shell', label: 'Shell', icon: Terminal, hint: 'Run a program' },
  { value: 'http', label: 'HTTP', icon: Globe, hint: 'Call a URL' },
  { value: 'sleep', label: 'Sleep', icon: Hourglass, hint: 'Wait a while' },
  { value: 'noop', label: 'No-op', icon: Zap, hint: 'Succeed at once' },
  { value: 'custom', label: 'Custom', icon: Puzzle, hint: 'A registered kind' },
];

/** Sets one form value and clears the server errors of the named fields. */
export type SetField = <K extends keyof JobForm>(key: K, value: JobForm[K], ...fields: string[]) => void;

export interface JobFieldsProps {
  form: JobForm;
  set: SetField;
  err: (field: string) => string | undefined;
}

/** A titled band of a form: title and description on the left, fields on the right. */
export function FormSection({ title, description, children }: { title: string; description: ReactNode; children: ReactNode }) {
  return (
    <section className="grid gap-6 border-b border-slate-100 px-6 py-6 last:border-0 md:grid-cols-3">
      <div>
        <h2 className="text-sm font-semibold text-slate-900">{title}</h2>
        <p className="mt-1 text-sm text-slate-500">{description}</p>
      </div>
      <div className="min-w-0 space-y-5 md:col-span-2">{children}</div>
    </section>
  );
}

/** The kind and its payload fields (argv for shell, method and URL for http, …). */
export function KindFields({ form, set, err, knownKinds = [] }: JobFieldsProps & { knownKinds?: readonly string[] }) {
  const customKinds = knownKinds.filter((k) => !(BUILTIN_KIND_NAMES as readonly string[]).includes(k));
  const scoped = useScoped();
  return (
    <>
      <div role="radiogroup" aria-label="Job kind" className="grid grid-cols-2 gap-2 sm:grid-cols-5">
        {KINDS.map((k) => (
          <button
            key={k.value}
            type="button"
            role="radio"
            aria-checked={form.kind === k.value}
            data-testid={`kind-${k.value}`}
            onClick={() => set('kind', k.value, 'kind', 'payload')}
            className={clsx(
              'flex flex-col items-start gap-1 rounded-lg border px-3 py-2.5 text-left transition-colors',
              form.kind === k.value ? 'border-indigo-500 bg-indigo-50/60 ring-1 ring-indigo-500' : 'border-slate-200 hover:border-slate-300 hover:bg-slate-50',
            )}
          >
            <k.icon className={clsx('size-4', form.kind === k.value ? 'text-indigo-600' : 'text-slate-400')} />
            <span className="text-sm font-medium text-slate-800">{k.label}</span>
            <span className="text-xs text-slate-500">{k.hint}</span>
          </button>
        ))}
      </div>
      <FieldError field="kind" error={form.kind !== 'custom' ? err('kind') : undefined} />

      {form.kind === 'shell' && (
        <>
          <div>
            <p className="block text-sm font-medium text-slate-700">Command (argv)</p>
            <p className="mb-2 text-xs text-slate-500">
              One argument per line, no shell involved: use <code className="font-mono">sh</code>, <code className="font-mono">-c</code>, <code className="font-mono">…</code> for pipes and variables. Only workers with WORKER_ALLOW_SHELL=1 run these.
            </p>
            <ListEditor
              field="payload.argv"
              items={form.argv}
              onChange={(argv) => set('argv', argv, 'payload.argv')}
              label={(i) => `Argument ${i}`}
              placeholder={(i) => (i === 0 ? 'program, e.g. sh' : i === 1 ? '-c' : 'argument')}
              error={err('payload.argv')}
            />
            <FieldError field="payload.argv" error={err('payload.argv')} />
          </div>
          <div>
            <p className="mb-2 block text-sm font-medium text-slate-700">Environment</p>
            <PairsEditor
              field="payload.env"
              pairs={form.env}
              onChange={(env) => set('env', env, 'payload.env')}
              keyLabel="Variable"
              valueLabel="Value"
              addLabel="Add variable"
              error={err('payload.env')}
            />
          </div>
          <Field field="payload.cwd" label="Working directory" hint="Optional; the worker's directory by default." error={err('payload.cwd')}>
            <TextInput field="payload.cwd" value={form.cwd} placeholder="/tmp" onChange={(e) => set('cwd', e.target.value, 'payload.cwd')} error={err('payload.cwd')} className="font-mono" />
          </Field>
    </>
    )}

    {form.kind === 'http' && (
      <>
        <div className="flex gap-3">
          <Field field="payload.method" label="Method" error={err('payload.method')} className="w-36">
            <select id={fieldId(scoped('payload.method'))} value={form.method} onChange={(e) => set('method', e.target.value, 'payload.method')} className={inputClass}>
              {HTTP_METHODS.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </Field>
          <Field field="payload.url" label="URL" error={err('payload.url')} className="flex-1">
            <TextInput field="payload.url" type="url" value={form.url} placeholder="https://example.com/hooks/order" onChange={(e) => set('url', e.target.value, 'payload.url')} error={err('payload.url')} className="font-mono" />
          </Field>
        </div>
        <div>
          <p className="mb-2 block text-sm font-medium text-slate-700">Headers</p>
          <PairsEditor
            field="payload.headers"
            pairs={form.headers}
            onChange={(headers) => set('headers', headers, 'payload.headers')}
            keyLabel="Header"
            valueLabel="Value"
            addLabel="Add header"
            error={err('payload.headers')}
          />
        </div>
        <div>
          <div className="flex items-center justify-between">
            <label htmlFor={fieldId(scoped('payload.body'))} className="block text-sm font-medium text-slate-700">
              Body
            </label>
            <select aria-label="Body type" value={form.bodyMode} onChange={(e) => set('bodyMode', e.target.value as JobForm['bodyMode'], 'payload.body')} className="rounded-md border-0 py-0.5 text-xs ring-1 ring-slate-300">
              <option value="none">none</option>
              <option value="json">JSON</option>
              <option value="text">text</option>
            </select>
          </div>
          {form.bodyMode !== 'none' && (
            <textarea
              id={fieldId(scoped('payload.body'))}
              rows={5}
              value={form.body}
              aria-invalid={err('payload.body') ? true : undefined}
              onChange={(e) => set('body', e.target.value, 'payload.body')}
              placeholder={form.bodyMode === 'json' ? '{"order": 42}' : 'plain text'}
              className={clsx(inputClass, 'mt-1 font-mono')}
            />
          )}
          <FieldError field="payload.body" error={err('payload.body')} />
        </div>
      </>
    )}

    {form.kind === 'sleep' && (
      <Field field="payload.ms" label="Duration (ms)" hint="0 to 86,400,000 (a day). Stops early when cancelled." error={err('payload.ms')}>
        <TextInput field="payload.ms" inputMode="numeric" value={form.ms} onChange={(e) => set('ms', e.target.value, 'payload.ms')} error={err('payload.ms')} className="w-48" />
      </Field>
    )}

    {form.kind === 'noop' && <p className="text-sm text-slate-500">A no-op job succeeds at once. Handy for testing queues and workers.</p>}

    {form.kind === 'custom' && (
      <>
        <Field field="kind" label="Kind" hint={customKinds.length ? `Registered by live workers: ${customKinds.join(', ')}` : 'No live worker has registered a custom kind.'} error={err('kind')}>
          <TextInput field="kind" list="known-kinds" value={form.customKind} placeholder="greet" onChange={(e) => set('customKind', e.target.value, 'kind')} error={err('kind')} className="font-mono" />
          <datalist id="known-kinds">
            {customKinds.map((k) => (
              <option key={k} value={k} />
            ))}
          </datalist>
        </Field>
        <Field field="payload" label="Payload (JSON object)" error={err('payload')}>
          <textarea
            id={fieldId(scoped('payload'))}
            rows={6}
            value={form.payload}
            aria-invalid={err('payload') ? true : undefined}
            onChange={(e) => set('payload', e.target.value, 'payload')}
            className={clsx(inputClass, 'font-mono')}
          />
        </Field>
      </>
    )}
    </>
  );
}

/** Queue, name, priority, attempts, backoff and timeout; the idempotency key
 *  only for a single job (a template makes many). */
export function SettingsFields({ form, set, err, knownQueues = [], template = false, nameHint }: JobFieldsProps & {
  knownQueues?: readonly string[];
  template?: boolean;
  nameHint?: string;
}) {
  return (
    <div className="grid gap-5 sm:grid-cols-2">
      <Field field="queue" label="Queue" hint="Letters, digits, _ . : -" error={err('queue')}>
        <TextInput field="queue" list="known-queues" value={form.queue} onChange={(e) => set('queue', e.target.value, 'queue')} error={err('queue')} className="font-mono" />
        <datalist id="known-queues">
          {knownQueues.map((q) => (
            <option key={q} value={q} />
          ))}
        </datalist>
      </Field>
      <Field field="name" label="Name" hint={nameHint ?? 'Shown in lists and searchable; defaults to the kind.'} error={err('name')}>
        <TextInput field="name" value={form.name} placeholder={form.kind === 'custom' ? form.customKind || 'kind' : form.kind} onChange={(e) => set('name', e.target.value, 'name')} error={err('name')} />
      </Field>
      <Field field="priority" label="Priority" hint="0–9, higher runs first within a queue." error={err('priority')}>
        <TextInput field="priority" type="number" min={0} max={9} value={form.priority} onChange={(e) => set('priority', e.target.value, 'priority')} error={err('priority')} />
      </Field>
      <Field field="max_attempts" label="Max attempts" hint="1–1000; then the job is dead." error={err('max_attempts')}>
        <TextInput field="max_attempts" type="number" min={1} max={1000} value={form.maxAttempts} onChange={(e) => set('maxAttempts', e.target.value, 'max_attempts')} error={err('max_attempts')} />
      </Field>
      <Field field="backoff.base_ms" label="Backoff base (ms)" hint="First retry waits this long (default 1000)." error={err('backoff.base_ms')}>
        <TextInput field="backoff.base_ms" type="number" min={0} value={form.backoffBase} placeholder="1000" onChange={(e) => set('backoffBase', e.target.value, 'backoff.base_ms', 'backoff.max_ms')} error={err('backoff.base_ms')} />
      </Field>
      <Field field="backoff.max_ms" label="Backoff max (ms)" hint="Cap on the doubling delay (default 3600000)." error={err('backoff.max_ms')}>
        <TextInput field="backoff.max_ms" type="number" min={0} value={form.backoffMax} placeholder="3600000" onChange={(e) => set('backoffMax', e.target.value, 'backoff.max_ms')} error={err('backoff.max_ms')} />
      </Field>
      <Field field="timeout_secs" label="Timeout (s)" hint="1–604800; empty for none." error={err('timeout_secs')}>
        <TextInput field="timeout_secs" type="number" min={1} value={form.timeoutSecs} placeholder="none" onChange={(e) => set('timeoutSecs', e.target.value, 'timeout_secs')} error={err('timeout_secs')} />
      </Field>
      {!template && (
        <Field field="idempotency_key" label="Idempotency key" hint="Optional; the same key and body return the first job." error={err('idempotency_key')}>
          <TextInput field="idempotency_key" value={form.idempotencyKey} onChange={(e) => set('idempotencyKey', e.target.value, 'idempotency_key')} error={err('idempotency_key')} className="font-mono" />
        </Field>
      )}
    </div>
  );
}

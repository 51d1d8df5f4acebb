import { useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { useNavigate, useParams } from 'react-router';
import { Trash2 } from 'lucide-react';
import { ApiError } from '../../api/client';
import { api } from '../../api/endpoints';
import { keys, useDefinition } from '../../api/queries';
import type { Definition } from '../../api/types';
import { CodeBlock } from '../../components/CodeBlock';
import { ConfirmDialog } from '../../components/Dialog';
import { useToast } from '../../components/toast';
import { Button, LoadError, PageHeader, Skeleton } from '../../components/ui';
import { Field, FieldScope, fieldId, TextInput } from '../../forms/fields';
import { FormSection } from '../../forms/JobFields';
import { fieldMessage, type FieldErrors } from '../../forms/jobForm';
import { errorsWithin } from '../../forms/template';
import { TemplateEditor } from '../../forms/TemplateEditor';
import { useKnownKinds, useKnownQueues } from '../../lib/known';
import { useDeleteDefinition } from './DefinitionsPage';
import { definitionFormFrom, emptyDefinitionForm, validateDefinitionForm, type DefinitionForm as Form } from './definitionForm';

function DefinitionForm({ initial, original }: { initial: Form; original?: Definition }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const toast = useToast();
  const knownQueues = useKnownQueues();
  const knownKinds = useKnownKinds();
  const [form, setForm] = useState(initial);
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const remove = useDeleteDefinition(() => navigate('/definitions'));

  const { errors: clientErrors, spec } = useMemo(() => validateDefinitionForm(form), [form]);
  const errors: FieldErrors = { ...(submitted ? clientErrors : {}), ...serverErrors };
  const update = (change: Partial<Form>, fields: string[]) => {
    setForm((f) => ({ ...f, ...change }));
    setServerErrors((e) => Object.fromEntries(Object.entries(e).filter(([k]) => !fields.includes(k))));
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
      const saved = original ? await api.replaceDefinition(original.name, { description: spec.description ?? null, template: spec.template }) : await api.createDefinition(spec);
      client.setQueryData(keys.definition(saved.name), saved);
      void client.invalidateQueries({ queryKey: keys.definitions() });
      toast('success', `Definition ${saved.name} ${original ? 'saved' : 'created'}`);
      navigate('/definitions');
    } catch (e) {
      if (e instanceof ApiError && e.field) {
        setServerErrors({ [e.field]: fieldMessage(e.field, e.message) });
        setGeneral(`The server rejected the definition: ${e.message}`);
      } else {
        setGeneral(e instanceof Error ? e.message : String(e));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-label={original ? 'Edit definition' : 'New definition'} className="rounded-xl border border-slate-200 bg-white shadow-sm">
      <FormSection title="Definition" description="Jobs, workflow nodes and schedules name it; each field can be overridden where it is used.">
        <div className="grid gap-5 sm:grid-cols-2">
          <Field field="name" label="Name" hint={original ? 'A definition keeps its name.' : "Letters, digits, '_', '.', ':' or '-'."} error={errors['name']}>
            <TextInput field="name" value={form.name} disabled={Boolean(original)} placeholder="thumbnail" onChange={(e) => update({ name: e.target.value }, ['name'])} error={errors['name']} className="font-mono" />
          </Field>
          <Field field="description" label="Description" hint="Optional.">
            <TextInput field="description" value={form.description} placeholder="resize one image" onChange={(e) => update({ description: e.target.value }, ['description'])} />
          </Field>
        </div>
      </FormSection>
      <FieldScope prefix="template.">
        <TemplateEditor
          value={form.template}
          onChange={(template, fields) => update({ template }, fields.map((f) => `template.${f}`))}
          errors={errorsWithin(errors, 'template.')}
          knownQueues={knownQueues}
          knownKinds={knownKinds}
          allowDefinition={false}
          nameHint="The jobs' name unless they give one; defaults to the kind."
        />
      </FieldScope>
      {general && (
        <div role="alert" data-testid="form-error" className="mx-6 mt-4 mb-2 rounded-lg border border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-800">
          {general}
        </div>
      )}
      {spec && (
        <details className="px-6 pb-2">
          <summary className="cursor-pointer text-sm font-medium text-slate-500 hover:text-slate-800">Request JSON</summary>
          <div className="mt-2">
            <CodeBlock value={original ? { description: spec.description ?? null, template: spec.template } : spec} maxHeight="max-h-64" />
          </div>
        </details>
      )}
      <div className="flex items-center justify-between gap-3 rounded-b-xl border-t border-slate-100 bg-slate-50 px-6 py-4">
        {original ? (
          <Button variant="danger" need="admin" onClick={() => setConfirmDelete(true)}>
            <Trash2 className="size-4" aria-hidden /> Delete
          </Button>
        ) : (
          <span />
        )}
        <Button type="submit" variant="primary" need="admin" busy={busy} data-testid="submit-definition">
          {original ? 'Save changes' : 'Create definition'}
        </Button>
      </div>
      {original && (
        <ConfirmDialog open={confirmDelete} title={`Delete definition ${original.name}?`} confirmLabel="Delete definition" onClose={() => setConfirmDelete(false)} onConfirm={() => remove.mutate(original.name)}>
          Jobs already made from it keep their fields. Workflow nodes and schedules that name it fail to start until a definition of that name exists again.
        </ConfirmDialog>
      )}
    </form>
  );
}

export function NewDefinitionPage() {
  return (
    <>
      <PageHeader title="New definition" description="A reusable job template, checked like a job when saved." />
      <DefinitionForm initial={emptyDefinitionForm()} />
    </>
  );
}

export function EditDefinitionPage() {
  const { name = '' } = useParams();
  const definition = useDefinition(name);
  return (
    <>
      <PageHeader title={`Definition ${name}`} description="New jobs, runs and fires use the new fields; jobs already made keep theirs." />
      {definition.isPending ? (
        <Skeleton className="h-96 w-full rounded-xl" />
      ) : definition.isError || !definition.data ? (
        <LoadError error={definition.error} feature="Definitions" onRetry={() => void definition.refetch()} />
      ) : (
        <DefinitionForm key={definition.data.updated_at} initial={definitionFormFrom(definition.data)} original={definition.data} />
      )}
    </>
  );
}

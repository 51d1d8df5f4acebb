// Create a workflow in a form (nodes with job templates, edges by picking
// parent and child) or in a JSON editor (the POST body itself). The graph is
// drawn as it is edited and checked as the server checks it; on submit the
// server's answer (a 409 cycle, a 422 field) is shown on the graph and by
// its field.
import clsx from 'clsx';
import { useMemo, useState, type FormEvent } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { Braces, FormInput } from 'lucide-react';
import { ApiError } from '../../api/client';
import { api } from '../../api/endpoints';
import { keys, useDefinitions } from '../../api/queries';
import type { WorkflowSpec } from '../../api/types';
import { CodeBlock } from '../../components/CodeBlock';
import type { DagNode } from '../../components/graph/DagView';
import { useToast } from '../../components/toast';
import { Button, Card, PageHeader } from '../../components/ui';
import { Field, inputClass, TextInput } from '../../forms/fields';
import { fieldMessage, type FieldErrors } from '../../forms/jobForm';
import { describeTemplate, validateTemplate } from '../../forms/template';
import { checkGraph, cycleOf } from '../../lib/dag';
import { useKnownKinds, useKnownQueues } from '../../lib/known';
import { EdgesCard } from './EdgesCard';
import { GraphPanel, type ServerVerdict } from './GraphPanel';
import { NodesCard } from './NodesCard';
import { emptyWorkflowForm, formatSpec, formFromSpec, graphOf, locate, looseSpec, parseWorkflowJson, validateWorkflowForm, type WorkflowForm } from './workflowForm';

type Mode = 'form' | 'json';

function ModeSwitch({ mode, onChange }: { mode: Mode; onChange: (mode: Mode) => void }) {
  return (
    <div role="radiogroup" aria-label="Editor" className="inline-flex rounded-lg bg-slate-100 p-1">
      {(
        [
          ['form', 'Form', FormInput],
          ['json', 'JSON', Braces],
        ] as const
      ).map(([value, label, Icon]) => (
        <button
          key={value}
          type="button"
          role="radio"
          aria-checked={mode === value}
          data-testid={`mode-${value}`}
          onClick={() => onChange(value)}
          className={clsx(
            'inline-flex items-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium',
            mode === value ? 'bg-white text-slate-900 shadow-sm' : 'text-slate-600 hover:text-slate-900',
          )}
        >
          <Icon className="size-3.5" aria-hidden /> {label}
        </button>
      ))}
    </div>
  );
}

export function NewWorkflowPage() {
  const location = useLocation();
  const from = (location.state as { from?: WorkflowSpec } | null)?.from;
  const navigate = useNavigate();
  const client = useQueryClient();
  const toast = useToast();
  const definitions = useDefinitions();
  const knownQueues = useKnownQueues();
  const knownKinds = useKnownKinds();

  const [mode, setMode] = useState<Mode>('form');
  const [form, setForm] = useState<WorkflowForm>(() => (from ? formFromSpec(from) : emptyWorkflowForm()));
  const [json, setJson] = useState('');
  const [switchError, setSwitchError] = useState<string | null>(null);
  const [openNode, setOpenNode] = useState<number | null>(() => form.nodes[0]?.id ?? null);
  const [submitted, setSubmitted] = useState(false);
  const [server, setServer] = useState<ServerVerdict | null>(null);
  const [busy, setBusy] = useState(false);
  const [showJson, setShowJson] = useState(false);

  const check = useMemo(() => validateWorkflowForm(form), [form]);
  const parsed = useMemo(() => (mode === 'json' ? parseWorkflowJson(json) : null), [mode, json]);

  // Every edit starts over: the server's answer was about the old graph.
  const edit = (next: WorkflowForm) => {
    setForm(next);
    setServer(null);
  };
  const serverErrors: FieldErrors = server?.field && !server.cycle ? { [server.field]: server.message } : {};
  const errors: FieldErrors = { ...(submitted ? check.errors : {}), ...serverErrors };

  // What the graph shows: the form's nodes, or the JSON's.
  const graph = (() => {
    if (mode === 'json') {
      if (!parsed?.ok) return null;
      const { keys: nodeKeys, edges } = graphOf(parsed.spec);
      const nodes: DagNode[] = parsed.spec.nodes.map((n) => ({ key: n.key, subtitle: describeTemplate(n.job) }));
      return { nodes, edges, check: checkGraph(nodeKeys, edges) };
    }
    const nodes: DagNode[] = form.nodes.map((n) => {
      const spec = validateTemplate(n.template).spec;
      return { key: n.key, subtitle: spec ? describeTemplate(spec) : 'incomplete template' };
    });
    return { nodes, edges: form.edges, check: check.graph };
  })();

  function switchMode(next: Mode) {
    if (next === mode) return;
    setSwitchError(null);
    if (next === 'json') {
      setJson(formatSpec(looseSpec(form)));
      setMode('json');
      return;
    }
    const result = parseWorkflowJson(json);
    if (!result.ok) {
      setSwitchError(`Fix the JSON to switch to the form: ${result.error}`);
      return;
    }
    const next_ = formFromSpec(result.spec);
    setForm(next_);
    setOpenNode(next_.nodes[0]?.id ?? null);
    setMode('form');
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    let spec: WorkflowSpec | null;
    if (mode === 'json') {
      spec = parsed?.ok ? parsed.spec : null;
    } else {
      spec = check.spec;
      if (!spec) {
        const first = Object.keys(check.errors)[0];
        const at = first ? locate(first) : null;
        if (at && 'node' in at) setOpenNode(form.nodes[at.node]?.id ?? null);
        return;
      }
    }
    if (!spec) return;
    setBusy(true);
    setServer(null);
    try {
      const created = await api.createWorkflow(spec);
      client.setQueryData(keys.workflow(created.id), created);
      void client.invalidateQueries({ queryKey: keys.workflows() });
      toast('success', `Workflow ${created.name} created`);
      navigate(`/workflows/${created.id}`);
    } catch (e) {
      if (e instanceof ApiError) {
        const field = e.field;
        setServer({ cycle: cycleOf(e.details), status: e.status, message: field ? fieldMessage(field, e.message) : e.message, field });
        const at = field ? locate(field) : null;
        if (mode === 'form' && at && 'node' in at) setOpenNode(form.nodes[at.node]?.id ?? null);
      } else {
        setServer({ cycle: null, status: 0, message: e instanceof Error ? e.message : String(e) });
      }
    } finally {
      setBusy(false);
    }
  }

  const topError = server && !server.field?.match(/^(nodes|edges)/) ? server : null;

  return (
    <form onSubmit={submit} noValidate aria-label="New workflow">
      <PageHeader
        title="New workflow"
        description="Nodes are job templates; an edge runs the child once the parent has succeeded."
        actions={<ModeSwitch mode={mode} onChange={switchMode} />}
      />
      {switchError && (
        <p role="alert" className="mb-4 rounded-lg border border-amber-200 bg-amber-50 px-4 py-2.5 text-sm text-amber-900">
          {switchError}
        </p>
      )}
      <div className="grid items-start gap-4 lg:grid-cols-2">
        <div className="min-w-0 space-y-4">
          {mode === 'json' ? (
            <Card title="Request body" actions={<span className="font-mono text-xs text-slate-400">POST /api/v1/workflows</span>}>
              <label htmlFor="workflow-json" className="sr-only">
                Request body
              </label>
              <textarea
                id="workflow-json"
                data-testid="workflow-json"
                rows={26}
                spellCheck={false}
                value={json}
                onChange={(e) => {
                  setJson(e.target.value);
                  setServer(null);
                }}
                aria-invalid={parsed && !parsed.ok ? true : undefined}
                className={clsx(inputClass, 'font-mono text-[0.8rem] leading-relaxed')}
              />
              {parsed && !parsed.ok ? (
                <p className="mt-2 text-xs font-medium text-rose-600" data-testid="json-error">
                  {parsed.error}
                </p>
              ) : (
                <p className="mt-2 text-xs text-slate-500">
                  {'{"name", "description", "nodes": [{"key", "job": {…the fields of POST /jobs, or "definition"}}], "edges": [["parent", "child"], …]}'}
                </p>
              )}
              {server?.field && !server.cycle && (
                <p className="mt-2 rounded-md bg-rose-50 px-3 py-2 text-xs font-medium text-rose-700" data-testid={`error-${server.field}`}>
                  {server.field}: {server.message}
                </p>
              )}
            </Card>
          ) : (
            <>
              <Card title="Workflow">
                <div className="grid gap-4 sm:grid-cols-2">
                  <Field field="name" label="Name" hint="Unique; runs and schedules refer to it." error={errors['name']}>
                    <TextInput field="name" value={form.name} placeholder="nightly-etl" onChange={(e) => edit({ ...form, name: e.target.value })} error={errors['name']} />
                  </Field>
                  <Field field="description" label="Description" hint="Optional.">
                    <TextInput field="description" value={form.description} onChange={(e) => edit({ ...form, description: e.target.value })} />
                  </Field>
                </div>
              </Card>

              <NodesCard
                form={form}
                edit={edit}
                errors={errors}
                openNode={openNode}
                setOpenNode={setOpenNode}
                definitions={definitions.data?.definitions.map((d) => d.name)}
                knownQueues={knownQueues}
                knownKinds={knownKinds}
              />

              <EdgesCard form={form} edit={edit} errors={errors} graph={check.graph} serverCycle={server?.cycle ?? null} />
            </>
          )}
        </div>

        <div className="min-w-0 space-y-4 lg:sticky lg:top-6">
          <Card title="Graph" actions={<span className="text-xs text-slate-400">left to right</span>}>
            {graph ? (
              <GraphPanel
                nodes={graph.nodes}
                edges={graph.edges}
                check={graph.check}
                server={server}
                selected={mode === 'form' ? (form.nodes.find((n) => n.id === openNode)?.key ?? null) : null}
                onSelect={mode === 'form' ? (key) => setOpenNode(form.nodes.find((n) => n.key === key)?.id ?? null) : undefined}
              />
            ) : (
              <p className="py-16 text-center text-sm text-slate-500">The graph appears once the JSON reads.</p>
            )}
          </Card>
          {topError && (
            <div role="alert" data-testid="form-error" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-800">
              The server refused the workflow ({topError.status}): {topError.field ? `${topError.field}: ` : ''}
              {topError.message}
            </div>
          )}
          {submitted && mode === 'form' && !check.spec && (
            <p role="alert" className="text-sm font-medium text-rose-600">
              Fix the {Object.keys(check.errors).length === 1 ? 'field' : `${Object.keys(check.errors).length} fields`} marked in red.
            </p>
          )}
          {showJson && mode === 'form' && (
            <CodeBlock value={check.spec ?? looseSpec(form)} maxHeight="max-h-72" testId="spec-preview" />
          )}
          <div className="flex items-center justify-between gap-3 rounded-xl border border-slate-200 bg-white px-5 py-4 shadow-sm">
            {mode === 'form' ? (
              <button type="button" onClick={() => setShowJson((s) => !s)} className="text-sm font-medium text-slate-500 hover:text-slate-800">
                {showJson ? 'Hide' : 'Show'} request JSON
              </button>
            ) : (
              <span className="text-xs text-slate-500">Sent as written.</span>
            )}
            <Button type="submit" variant="primary" need="admin" busy={busy} data-testid="submit-workflow">
              Create workflow
            </Button>
          </div>
        </div>
      </div>
    </form>
  );
}

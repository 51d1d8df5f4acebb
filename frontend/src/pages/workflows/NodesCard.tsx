// The editor's nodes: each a key and a job template, one open at a time.
import clsx from 'clsx';
import { ChevronDown, ChevronRight, Plus, Trash2 } from 'lucide-react';
import { Button, Card } from '../../components/ui';
import { FieldError, FieldScope, fieldId, inputCls } from '../../forms/fields';
import type { FieldErrors } from '../../forms/jobForm';
import { describeTemplate, emptyTemplate, errorsWithin, validateTemplate } from '../../forms/template';
import { TemplateEditor } from '../../forms/TemplateEditor';
import { freshKey, newNode, removeNode, renameNode, type WorkflowForm } from './workflowForm';

export function NodesCard({ form, edit, errors, openNode, setOpenNode, definitions, knownQueues, knownKinds }: {
  form: WorkflowForm;
  edit: (next: WorkflowForm) => void;
  errors: FieldErrors;
  openNode: number | null;
  setOpenNode: (id: number | null) => void;
  definitions: readonly string[] | undefined;
  knownQueues: readonly string[];
  knownKinds: readonly string[];
}) {
  const nodeErrorCount = (i: number) => Object.keys(errors).filter((f) => f.startsWith(`nodes[${i}].`)).length;
  return (
    <Card
      title={`Nodes (${form.nodes.length})`}
      bodyClassName=""
      actions={
        <Button
          size="sm"
          data-testid="add-node"
          onClick={() => {
            const node = newNode(freshKey(form), emptyTemplate({ kind: 'noop' }));
            edit({ ...form, nodes: [...form.nodes, node] });
            setOpenNode(node.id);
          }}
        >
          <Plus className="size-3.5" aria-hidden /> Add node
        </Button>
      }
    >
      <FieldError field="nodes" error={errors['nodes']} />
      <ul className="divide-y divide-slate-100">
        {form.nodes.map((node, i) => {
          const open = openNode === node.id;
          const problems = nodeErrorCount(i);
          const spec = validateTemplate(node.template).spec;
          return (
            <li key={node.id} data-testid="node-row" data-node-index={i} className={clsx(open && 'bg-slate-50/60')}>
              <div className="flex items-center gap-3 px-5 py-3">
                <button type="button" aria-label={open ? `Collapse node ${i + 1}` : `Edit node ${i + 1}`} onClick={() => setOpenNode(open ? null : node.id)} className="rounded p-1 text-slate-400 hover:bg-slate-100 hover:text-slate-700">
                  {open ? <ChevronDown className="size-4" /> : <ChevronRight className="size-4" />}
                </button>
                <div className="w-44 shrink-0">
                  <input
                    id={fieldId(`nodes[${i}].key`)}
                    aria-label={`Key of node ${i + 1}`}
                    aria-invalid={errors[`nodes[${i}].key`] ? true : undefined}
                    value={node.key}
                    onChange={(e) => edit(renameNode(form, node.id, e.target.value))}
                    className={inputCls('font-mono')}
                  />
                </div>
                <button type="button" onClick={() => setOpenNode(open ? null : node.id)} className="min-w-0 flex-1 truncate text-left text-sm text-slate-500 hover:text-slate-800">
                  {spec ? describeTemplate(spec) : <span className="italic">template incomplete</span>}
                </button>
                {problems > 0 && (
                  <span className="rounded-full bg-rose-50 px-2 py-0.5 text-xs font-medium text-rose-700 ring-1 ring-rose-200" data-testid="node-errors">
                    {problems} {problems === 1 ? 'error' : 'errors'}
                  </span>
                )}
                <button
                  type="button"
                  aria-label={`Remove node ${node.key || i + 1}`}
                  onClick={() => edit(removeNode(form, node.id))}
                  className="rounded p-1.5 text-slate-400 hover:bg-rose-50 hover:text-rose-600"
                >
                  <Trash2 className="size-4" />
                </button>
              </div>
              <FieldError field={`nodes[${i}].key`} error={errors[`nodes[${i}].key`]} />
              {open && (
                <div className="border-t border-slate-100 px-5 pt-4 pb-5 pl-14" data-testid="node-editor">
                  <FieldScope prefix={`nodes[${i}].job.`}>
                    <TemplateEditor
                      layout="stacked"
                      value={node.template}
                      onChange={(template) => edit({ ...form, nodes: form.nodes.map((n) => (n.id === node.id ? { ...n, template } : n)) })}
                      errors={errorsWithin(errors, `nodes[${i}].job.`)}
                      definitions={definitions}
                      knownQueues={knownQueues}
                      knownKinds={knownKinds}
                      nameHint="Defaults to the kind."
                    />
                  </FieldScope>
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </Card>
  );
}

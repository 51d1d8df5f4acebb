// The editor's edges: pick a parent and a child; an edge on a cycle, or one
// the server refused, is red.
import clsx from 'clsx';
import { useState } from 'react';
import { Plus, X } from 'lucide-react';
import { Button, Card } from '../../components/ui';
import { fieldId, inputCls } from '../../forms/fields';
import type { FieldErrors } from '../../forms/jobForm';
import type { GraphCheck } from '../../lib/dag';
import type { WorkflowForm } from './workflowForm';

export function EdgesCard({ form, edit, errors, graph, serverCycle }: {
  form: WorkflowForm;
  edit: (next: WorkflowForm) => void;
  errors: FieldErrors;
  graph: GraphCheck;
  serverCycle: string[] | null;
}) {
  const [edgeParent, setEdgeParent] = useState('');
  const [edgeChild, setEdgeChild] = useState('');
  const nodeKeys = [...new Set(form.nodes.map((n) => n.key).filter(Boolean))];
  const cycle = serverCycle ?? (!graph.ok && graph.problem.kind === 'cycle' ? graph.problem.cycle : null);
  return (
    <Card title={`Edges (${form.edges.length})`}>
      <div className="flex flex-wrap items-end gap-2" id={fieldId('edges')}>
        <label className="text-sm">
          <span className="mb-1 block font-medium text-slate-700">Parent</span>
          <select data-testid="edge-parent" value={edgeParent} onChange={(e) => setEdgeParent(e.target.value)} className={inputCls('w-44 font-mono')}>
            <option value="">choose…</option>
            {nodeKeys.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <span className="pb-2 text-slate-400">→</span>
        <label className="text-sm">
          <span className="mb-1 block font-medium text-slate-700">Child (runs after)</span>
          <select data-testid="edge-child" value={edgeChild} onChange={(e) => setEdgeChild(e.target.value)} className={inputCls('w-44 font-mono')}>
            <option value="">choose…</option>
            {nodeKeys.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <Button
          data-testid="add-edge"
          disabled={!edgeParent || !edgeChild}
          onClick={() => {
            edit({ ...form, edges: [...form.edges, [edgeParent, edgeChild]] });
            setEdgeChild('');
          }}
        >
          <Plus className="size-3.5" aria-hidden /> Add edge
        </Button>
      </div>
      {form.edges.length === 0 ? (
        <p className="mt-3 text-sm text-slate-500">No edges: every node runs at once, in parallel.</p>
      ) : (
        <ul className="mt-4 flex flex-wrap gap-2" data-testid="edges">
          {form.edges.map(([p, c], i) => {
            const error = errors[`edges[${i}]`] ?? (!graph.ok && 'index' in graph.problem && graph.problem.index === i ? graph.problem.message : undefined);
            const onCycle = cycle?.some((k, j, path) => k === p && path[j + 1] === c) ?? false;
            return (
              <li
                key={`${p}→${c}→${i}`}
                data-testid="edge"
                title={error}
                className={clsx(
                  'inline-flex items-center gap-1.5 rounded-full py-1 pr-1 pl-3 font-mono text-xs ring-1 ring-inset',
                  error || onCycle ? 'bg-rose-50 text-rose-700 ring-rose-300' : 'bg-slate-50 text-slate-700 ring-slate-200',
                )}
              >
                {p} → {c}
                <button type="button" aria-label={`Remove edge ${p} → ${c}`} onClick={() => edit({ ...form, edges: form.edges.filter((_, j) => j !== i) })} className="rounded-full p-0.5 hover:bg-white">
                  <X className="size-3.5" />
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </Card>
  );
}

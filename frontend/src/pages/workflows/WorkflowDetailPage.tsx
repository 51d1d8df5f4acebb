import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { Copy, History, Play, Trash2 } from 'lucide-react';
import { api } from '../../api/endpoints';
import { keys, useWorkflow, useWorkflowRuns } from '../../api/queries';
import type { JobStatus, RunSummary, WorkflowDetail } from '../../api/types';
import { JOB_STATUSES } from '../../api/types';
import { CodeBlock } from '../../components/CodeBlock';
import { ConfirmDialog } from '../../components/Dialog';
import { DagView } from '../../components/graph/DagView';
import { RunStatusBadge } from '../../components/StatusBadge';
import { STATUS_TONE } from '../../components/status';
import { useToast } from '../../components/toast';
import { Button, Card, EmptyState, LoadError, PageHeader, Skeleton, TableSkeleton } from '../../components/ui';
import { compactSpec, describeTemplate } from '../../forms/template';
import { formatFullTime, formatRelative, shortId } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { specFromDetail } from './workflowForm';

/** A run's jobs by status as a thin stacked bar, with the numbers beside it. */
function CountsBar({ counts }: { counts: Record<string, number> }) {
  const entries = JOB_STATUSES.filter((s) => (counts[s] ?? 0) > 0).map((s) => [s, counts[s] ?? 0] as [JobStatus, number]);
  const total = entries.reduce((n, [, c]) => n + c, 0);
  return (
    <div className="flex items-center gap-3">
      <div className="flex h-1.5 w-28 overflow-hidden rounded-full bg-slate-100">
        {entries.map(([s, c]) => (
          <div key={s} style={{ width: `${(c / Math.max(1, total)) * 100}%`, backgroundColor: STATUS_TONE[s].hex }} />
        ))}
      </div>
      <span className="text-xs whitespace-nowrap text-slate-500">{entries.map(([s, c]) => `${c} ${s}`).join(' · ')}</span>
    </div>
  );
}

function RunsTable({ runs, now }: { runs: RunSummary[]; now: number }) {
  return (
    <table className="min-w-full text-sm" data-testid="runs">
      <thead className="border-b border-slate-200 bg-slate-50/80 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500">
        <tr>
          <th className="px-5 py-2.5 font-semibold">Run</th>
          <th className="px-3 py-2.5 font-semibold">Status</th>
          <th className="px-3 py-2.5 font-semibold">Nodes</th>
          <th className="px-5 py-2.5 font-semibold">Started</th>
        </tr>
      </thead>
      <tbody className="divide-y divide-slate-100">
        {runs.map((run) => (
          <tr key={run.id} data-testid="run-row" data-run-id={run.id} className="hover:bg-slate-50">
            <td className="px-5 py-2.5">
              <Link to={`/workflow-runs/${run.id}`} className="font-mono text-xs font-medium text-indigo-600 hover:text-indigo-500" title={run.id}>
                {shortId(run.id)}
              </Link>
              {run.schedule_id && (
                <Link to={`/schedules/${run.schedule_id}`} className="ml-2 rounded bg-violet-50 px-1.5 py-0.5 text-[0.7rem] text-violet-700">
                  scheduled
                </Link>
              )}
            </td>
            <td className="px-3 py-2.5">
              <RunStatusBadge status={run.status} />
            </td>
            <td className="px-3 py-2.5">
              <CountsBar counts={run.counts} />
            </td>
            <td className="px-5 py-2.5 whitespace-nowrap text-slate-600" title={formatFullTime(run.created_at)}>
              {formatRelative(run.created_at, now)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function NodePanel({ workflow, selected }: { workflow: WorkflowDetail; selected: string | null }) {
  const node = workflow.nodes.find((n) => n.key === selected);
  if (!node) return <p className="text-sm text-slate-500">Click a node to see its job template.</p>;
  return (
    <div className="space-y-3" data-testid="node-template">
      <div>
        <p className="font-mono text-sm font-semibold text-slate-900">{node.key}</p>
        <p className="text-xs text-slate-500">{describeTemplate(node.template)}</p>
      </div>
      <dl className="grid grid-cols-2 gap-3 text-xs">
        <div>
          <dt className="text-slate-500">Runs after</dt>
          <dd className="mt-0.5 font-mono text-slate-800">{node.parents.join(', ') || '— (starts at once)'}</dd>
        </div>
        <div>
          <dt className="text-slate-500">Then</dt>
          <dd className="mt-0.5 font-mono text-slate-800">{node.children.join(', ') || '—'}</dd>
        </div>
      </dl>
      {node.template.definition && (
        <p className="text-xs text-slate-600">
          From definition{' '}
          <Link className="font-medium text-indigo-600" to={`/definitions/${encodeURIComponent(node.template.definition)}`}>
            {node.template.definition}
          </Link>
          , read at each run.
        </p>
      )}
      <CodeBlock value={compactSpec(node.template)} maxHeight="max-h-64" />
    </div>
  );
}

export function WorkflowDetailPage() {
  const { id = '' } = useParams();
  const workflow = useWorkflow(id);
  const runs = useWorkflowRuns(id);
  const now = useNow(5_000);
  const navigate = useNavigate();
  const client = useQueryClient();
  const toast = useToast();
  const [picked, setPicked] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);

  const start = useMutation({
    mutationFn: () => api.startRun(id),
    onSuccess: (run) => {
      client.setQueryData(keys.run(run.id), run);
      void client.invalidateQueries({ queryKey: keys.allWorkflowRuns() });
      void client.invalidateQueries({ queryKey: keys.workflows() });
      navigate(`/workflow-runs/${run.id}`);
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });
  const remove = useMutation({
    mutationFn: () => api.deleteWorkflow(id),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.workflows() });
      toast('success', `Workflow ${workflow.data?.name ?? ''} deleted`);
      navigate('/workflows');
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });

  const w = workflow.data;
  if (workflow.isPending) {
    return (
      <div className="space-y-4">
        <Skeleton className="h-8 w-64" />
        <Skeleton className="h-96 w-full rounded-xl" />
      </div>
    );
  }
  if (workflow.isError || !w) return <LoadError error={workflow.error} feature="Workflows" onRetry={() => void workflow.refetch()} />;

  const selected = picked ?? w.topological_order[0] ?? null;
  const edges = w.edges.map((e) => [e[0] ?? '', e[1] ?? ''] as [string, string]);
  const runList = runs.data?.runs ?? [];

  return (
    <>
      <PageHeader
        title={w.name}
        description={w.description || `${w.nodes.length} nodes, ${edges.length} edges.`}
        actions={
          <>
            <Button need="admin" onClick={() => navigate('/workflows/new', { state: { from: specFromDetail(w, `${w.name}-copy`) } })}>
              <Copy className="size-4" aria-hidden /> Copy as new
            </Button>
            <Button variant="danger" need="admin" onClick={() => setConfirmDelete(true)}>
              <Trash2 className="size-4" aria-hidden /> Delete
            </Button>
            <Button variant="primary" need="submit" data-testid="start-run" busy={start.isPending} onClick={() => start.mutate()}>
              <Play className="size-4" aria-hidden /> Start a run
            </Button>
          </>
        }
      />
      <div className="grid gap-4 lg:grid-cols-5">
        <Card title="Graph" className="lg:col-span-3" actions={<span className="text-xs text-slate-400">runs left to right</span>}>
          <DagView
            nodes={w.nodes.map((n) => ({ key: n.key, subtitle: describeTemplate(n.template) }))}
            edges={edges}
            selected={selected}
            onNodeClick={setPicked}
            testId="workflow-graph"
          />
        </Card>
        <Card title="Node template" className="lg:col-span-2">
          <NodePanel workflow={w} selected={selected} />
        </Card>
        <Card title="Runs" className="lg:col-span-5" bodyClassName="" actions={<span className="text-xs text-slate-400">latest 50 · live</span>}>
          {runs.isPending ? (
            <TableSkeleton rows={3} cols={4} />
          ) : runs.isError ? (
            <div className="p-5">
              <LoadError error={runs.error} feature="Runs" onRetry={() => void runs.refetch()} />
            </div>
          ) : runList.length === 0 ? (
            <EmptyState title="No runs yet" icon={<History className="size-5" />}>
              Start one with the button above, or let a schedule start them.
            </EmptyState>
          ) : (
            <div className="overflow-x-auto">
              <RunsTable runs={runList} now={now} />
            </div>
          )}
        </Card>
      </div>
      <ConfirmDialog open={confirmDelete} title={`Delete workflow ${w.name}?`} confirmLabel="Delete workflow" onClose={() => setConfirmDelete(false)} onConfirm={() => remove.mutate()}>
        The workflow and its finished runs are deleted. A run that has not finished must be cancelled first. Schedules that start it will fail to fire.
      </ConfirmDialog>
    </>
  );
}

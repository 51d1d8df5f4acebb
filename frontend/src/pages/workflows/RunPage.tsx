// One workflow run: its graph with every node coloured by its job's state,
// live (the cache follows the WebSocket; see src/live), the node table, and
// retry / cancel. Clicking a node opens its job.
import clsx from 'clsx';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { Ban, RotateCcw } from 'lucide-react';
import { api } from '../../api/endpoints';
import { keys, useRun } from '../../api/queries';
import type { RunDetail } from '../../api/types';
import { ConfirmDialog } from '../../components/Dialog';
import { DagView } from '../../components/graph/DagView';
import { RunStatusBadge, StatusBadge } from '../../components/StatusBadge';
import { STATUS_TONE } from '../../components/status';
import { useToast } from '../../components/toast';
import { Button, Card, LoadError, PageHeader, Skeleton } from '../../components/ui';
import { durationBetween, formatFullTime, formatRelative, formatTime, shortId } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { topologicalOrder } from '../../lib/dag';
import { countByStatus, runGraph } from './runGraph';

function useRunAction(action: (id: string) => Promise<RunDetail>, done: string) {
  const client = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: action,
    onSuccess: (run) => {
      client.setQueryData(keys.run(run.id), run);
      void client.invalidateQueries({ queryKey: keys.allWorkflowRuns() });
      toast('success', done);
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });
}

export function RunPage() {
  const { id = '' } = useParams();
  const run = useRun(id);
  const now = useNow(2_000);
  const navigate = useNavigate();
  const retry = useRunAction(api.retryRun, 'Run retried: failed and skipped nodes run again');
  const cancel = useRunAction(api.cancelRun, 'Run cancelled');
  const [confirmCancel, setConfirmCancel] = useState(false);
  const r = run.data;

  if (run.isPending) {
    return (
      <div className="space-y-4">
        <Skeleton className="h-8 w-72" />
        <Skeleton className="h-96 w-full rounded-xl" />
      </div>
    );
  }
  if (run.isError || !r) return <LoadError error={run.error} feature="Workflow runs" onRetry={() => void run.refetch()} />;

  const graph = runGraph(r);
  // The table lists parents before children (the api lists by key).
  const order = topologicalOrder(
    r.nodes.map((n) => n.key),
    graph.edges,
  );
  const rows = [...r.nodes].sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
  const counts = countByStatus(r.nodes.map((n) => n.job.status));
  const finished = r.nodes.filter((n) => n.job.finished_at).map((n) => n.job.finished_at as string);
  const ended = r.status !== 'running' && finished.length ? finished.sort().at(-1) : null;

  return (
    <>
      <PageHeader
        title={`Run ${shortId(r.id)}`}
        description={
          <span className="flex flex-wrap items-center gap-2">
            <RunStatusBadge status={r.status} testId="run-status" />
            <span>
              of{' '}
              <Link className="font-medium text-indigo-600" to={`/workflows/${r.workflow_id}`}>
                {r.workflow_name}
              </Link>
              , started <span title={formatFullTime(r.created_at)}>{formatRelative(r.created_at, now)}</span>
              {ended ? `, took ${durationBetween(r.created_at, ended)}` : ''}
              {r.schedule_id && (
                <>
                  {' '}
                  by{' '}
                  <Link className="font-medium text-indigo-600" to={`/schedules/${r.schedule_id}`}>
                    a schedule
                  </Link>
                </>
              )}
            </span>
          </span>
        }
        actions={
          <>
            <Button need="admin" data-testid="retry-run" disabled={r.status === 'running' || r.status === 'succeeded'} busy={retry.isPending} onClick={() => retry.mutate(r.id)} title="Re-run the dead, cancelled and skipped nodes; keep the succeeded ones">
              <RotateCcw className="size-4" aria-hidden /> Retry run
            </Button>
            <Button variant="danger" need="admin" data-testid="cancel-run" disabled={r.status !== 'running'} busy={cancel.isPending} onClick={() => setConfirmCancel(true)}>
              <Ban className="size-4" aria-hidden /> Cancel run
            </Button>
          </>
        }
      />
      <div className="space-y-4">
        <Card
          title="Graph"
          actions={
            <div className="flex flex-wrap items-center gap-3 text-xs text-slate-500" data-testid="run-counts">
              {counts.map(([status, n]) => (
                <span key={status} className="inline-flex items-center gap-1.5">
                  <span className="size-2 rounded-full" style={{ backgroundColor: STATUS_TONE[status].hex }} />
                  {n} {status}
                </span>
              ))}
              <span className="text-slate-400">· live · click a node to open its job</span>
            </div>
          }
        >
          <DagView
            nodes={graph.nodes}
            edges={graph.edges}
            testId="run-graph"
            onNodeClick={(key) => {
              const node = r.nodes.find((n) => n.key === key);
              if (node) navigate(`/jobs/${node.job.id}`);
            }}
          />
        </Card>
        <Card title="Nodes" bodyClassName="">
          <div className="overflow-x-auto">
            <table className="min-w-full text-sm" data-testid="run-nodes">
              <thead className="border-b border-slate-200 bg-slate-50/80 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500">
                <tr>
                  <th className="px-5 py-2.5 font-semibold">Node</th>
                  <th className="px-3 py-2.5 font-semibold">Status</th>
                  <th className="px-3 py-2.5 font-semibold">After</th>
                  <th className="px-3 py-2.5 text-right font-semibold">Attempts</th>
                  <th className="px-3 py-2.5 font-semibold">Started</th>
                  <th className="px-3 py-2.5 font-semibold">Took</th>
                  <th className="px-5 py-2.5 font-semibold">Error</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {rows.map((node) => (
                  <tr key={node.key} data-node={node.key} className="hover:bg-slate-50">
                    <td className="px-5 py-2.5">
                      <Link to={`/jobs/${node.job.id}`} className="font-mono text-[0.8rem] font-medium text-slate-900 hover:text-indigo-600">
                        {node.key}
                      </Link>
                      <span className="ml-2 font-mono text-xs text-slate-400">{node.job.kind}</span>
                    </td>
                    <td className="px-3 py-2.5">
                      <StatusBadge status={node.job.status} testId="node-status" />
                    </td>
                    <td className="px-3 py-2.5 font-mono text-xs text-slate-500">{node.parents.join(', ') || '—'}</td>
                    <td className="px-3 py-2.5 text-right tabular-nums text-slate-600">
                      {node.job.attempt - node.job.attempt_base}
                      <span className="text-slate-400">/{node.job.max_attempts}</span>
                    </td>
                    <td className="px-3 py-2.5 whitespace-nowrap text-slate-600" title={formatFullTime(node.job.started_at)}>
                      {node.job.started_at ? formatTime(node.job.started_at, now) : '—'}
                    </td>
                    <td className="px-3 py-2.5 whitespace-nowrap text-slate-600">
                      {node.job.started_at ? durationBetween(node.job.started_at, node.job.finished_at ?? (node.job.status === 'running' ? new Date(now).toISOString() : null)) : '—'}
                    </td>
                    <td className={clsx('max-w-[22rem] truncate px-5 py-2.5 font-mono text-xs', node.job.last_error ? 'text-rose-700' : 'text-slate-400')} title={node.job.last_error ?? ''}>
                      {node.job.last_error ?? '—'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      </div>
      <ConfirmDialog open={confirmCancel} title="Cancel this run?" confirmLabel="Cancel run" cancelLabel="Keep it running" onClose={() => setConfirmCancel(false)} onConfirm={() => cancel.mutate(r.id)}>
        Every node that has not finished is cancelled; running jobs are stopped. Succeeded nodes keep their results. You can retry the run afterwards.
      </ConfirmDialog>
    </>
  );
}

import { Link } from 'react-router';
import { Plus, Waypoints } from 'lucide-react';
import { useWorkflows } from '../../api/queries';
import { Card, EmptyState, GatedLink, LoadError, PageHeader, TableSkeleton } from '../../components/ui';
import { formatCount, formatFullTime, formatRelative } from '../../lib/format';
import { useNow } from '../../lib/useNow';

const th = 'px-3 py-2.5 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500 whitespace-nowrap';
const td = 'px-3 py-3 align-middle';

export function WorkflowsPage() {
  const list = useWorkflows();
  const now = useNow(30_000);
  const workflows = list.data?.workflows ?? [];
  return (
    <>
      <PageHeader
        title="Workflows"
        description="DAGs of jobs: a job runs as soon as all its parents have succeeded, and sees their results."
        actions={
          <GatedLink need="admin" to="/workflows/new" data-testid="new-workflow" className="inline-flex items-center gap-1.5 rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-500">
            <Plus className="size-4" aria-hidden /> New workflow
          </GatedLink>
        }
      />
      <Card bodyClassName="">
        {list.isPending ? (
          <TableSkeleton rows={4} cols={5} />
        ) : list.isError ? (
          <div className="p-5">
            <LoadError error={list.error} feature="Workflows" onRetry={() => void list.refetch()} />
          </div>
        ) : workflows.length === 0 ? (
          <EmptyState title="No workflows yet" icon={<Waypoints className="size-5" />}>
            Draw one in a form or paste its JSON:{' '}
            <Link className="font-medium text-indigo-600" to="/workflows/new">
              create a workflow
            </Link>
            .
          </EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table className="min-w-full text-sm" data-testid="workflows-table">
              <thead className="border-b border-slate-200 bg-slate-50/80">
                <tr>
                  <th className={`${th} pl-5`}>Workflow</th>
                  <th className={`${th} text-right`}>Nodes</th>
                  <th className={`${th} text-right`}>Edges</th>
                  <th className={`${th} text-right`}>Runs</th>
                  <th className={`${th} pr-5`}>Created</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {workflows.map((w) => (
                  <tr key={w.id} data-workflow={w.name} className="hover:bg-slate-50">
                    <td className={`${td} max-w-[28rem] pl-5`}>
                      <Link to={`/workflows/${w.id}`} className="font-medium text-slate-900 hover:text-indigo-600">
                        {w.name}
                      </Link>
                      {w.description && <p className="truncate text-xs text-slate-500">{w.description}</p>}
                    </td>
                    <td className={`${td} text-right tabular-nums text-slate-700`}>{formatCount(w.node_count)}</td>
                    <td className={`${td} text-right tabular-nums text-slate-700`}>{formatCount(w.edge_count)}</td>
                    <td className={`${td} text-right tabular-nums text-slate-700`}>{formatCount(w.run_count)}</td>
                    <td className={`${td} pr-5 whitespace-nowrap text-slate-600`} title={formatFullTime(w.created_at)}>
                      {formatRelative(w.created_at, now)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}

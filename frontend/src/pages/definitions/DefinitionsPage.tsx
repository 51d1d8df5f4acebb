import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { BookMarked, Pencil, Plus, Trash2 } from 'lucide-react';
import { api } from '../../api/endpoints';
import { keys, useDefinitions } from '../../api/queries';
import type { Definition } from '../../api/types';
import { ConfirmDialog } from '../../components/Dialog';
import { useToast } from '../../components/toast';
import { Card, EmptyState, GatedLink, IconButton, LoadError, PageHeader, TableSkeleton } from '../../components/ui';
import { describeTemplate } from '../../forms/template';
import { formatFullTime, formatRelative } from '../../lib/format';
import { useNow } from '../../lib/useNow';

const th = 'px-3 py-2.5 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500 whitespace-nowrap';
const td = 'px-3 py-3 align-middle';

export function useDeleteDefinition(onDone?: () => void) {
  const client = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: (name: string) => api.deleteDefinition(name).then(() => name),
    onSuccess: (name) => {
      client.removeQueries({ queryKey: keys.definition(name) });
      void client.invalidateQueries({ queryKey: keys.definitions() });
      toast('success', `Definition ${name} deleted`);
      onDone?.();
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });
}

export function DefinitionsPage() {
  const list = useDefinitions();
  const now = useNow(30_000);
  const remove = useDeleteDefinition();
  const [deleting, setDeleting] = useState<Definition | null>(null);
  const definitions = list.data?.definitions ?? [];
  return (
    <>
      <PageHeader
        title="Definitions"
        description={
          <>
            Named job templates. A job, a workflow node or a schedule names one with <code className="font-mono text-xs">"definition": "&lt;name&gt;"</code> and overrides any field.
          </>
        }
        actions={
          <GatedLink need="admin" to="/definitions/new" data-testid="new-definition" className="inline-flex items-center gap-1.5 rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-500">
            <Plus className="size-4" aria-hidden /> New definition
          </GatedLink>
        }
      />
      <Card bodyClassName="">
        {list.isPending ? (
          <TableSkeleton rows={4} cols={5} />
        ) : list.isError ? (
          <div className="p-5">
            <LoadError error={list.error} feature="Definitions" onRetry={() => void list.refetch()} />
          </div>
        ) : definitions.length === 0 ? (
          <EmptyState title="No definitions yet" icon={<BookMarked className="size-5" />}>
            Save a job template once and reuse it from jobs, workflow nodes and schedules.{' '}
            <Link className="font-medium text-indigo-600" to="/definitions/new">
              Create a definition
            </Link>
            .
          </EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table className="min-w-full text-sm" data-testid="definitions-table">
              <thead className="border-b border-slate-200 bg-slate-50/80">
                <tr>
                  <th className={`${th} pl-5`}>Definition</th>
                  <th className={th}>Kind</th>
                  <th className={th}>Queue</th>
                  <th className={th}>Does</th>
                  <th className={th}>Updated</th>
                  <th className={`${th} pr-5`}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {definitions.map((d) => (
                  <tr key={d.name} data-definition={d.name} className="hover:bg-slate-50">
                    <td className={`${td} max-w-[20rem] pl-5`}>
                      <Link to={`/definitions/${encodeURIComponent(d.name)}`} className="font-mono text-[0.8rem] font-medium text-slate-900 hover:text-indigo-600">
                        {d.name}
                      </Link>
                      {d.description && <p className="truncate text-xs text-slate-500">{d.description}</p>}
                    </td>
                    <td className={`${td} font-mono text-xs text-slate-600`}>{d.template.kind}</td>
                    <td className={td}>
                      <span className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-700">{d.template.queue ?? 'default'}</span>
                    </td>
                    <td className={`${td} max-w-[24rem] truncate font-mono text-xs text-slate-600`} title={describeTemplate(d.template)}>
                      {describeTemplate(d.template)}
                    </td>
                    <td className={`${td} whitespace-nowrap text-slate-600`} title={formatFullTime(d.updated_at)}>
                      {formatRelative(d.updated_at, now)}
                    </td>
                    <td className={`${td} pr-5`}>
                      <div className="flex justify-end gap-1">
                        <Link to={`/definitions/${encodeURIComponent(d.name)}`} aria-label={`Edit ${d.name}`} className="rounded-md p-1.5 text-slate-400 hover:bg-slate-100 hover:text-slate-700">
                          <Pencil className="size-4" />
                        </Link>
                        <IconButton need="admin" aria-label={`Delete ${d.name}`} onClick={() => setDeleting(d)} className="text-slate-400 hover:bg-rose-50 hover:text-rose-600">
                          <Trash2 className="size-4" />
                        </IconButton>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete definition ${deleting?.name ?? ''}?`}
        confirmLabel="Delete definition"
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting.name)}
      >
        Jobs already made from it keep their fields. Workflow nodes and schedules that name it fail to start until a definition of that name exists again.
      </ConfirmDialog>
    </>
  );
}

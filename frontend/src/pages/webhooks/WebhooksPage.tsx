import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Pencil, Plus, Trash2, Webhook as WebhookIcon } from 'lucide-react';
import { useState } from 'react';
import { Link } from 'react-router';
import { api } from '../../api/endpoints';
import { keys, useWebhooks, useWorkflows } from '../../api/queries';
import type { Webhook } from '../../api/types';
import { useCan } from '../../auth/session';
import { ConfirmDialog } from '../../components/Dialog';
import { useToast } from '../../components/toast';
import { Card, Denied, EmptyState, GatedLink, LoadError, PageHeader, TableSkeleton } from '../../components/ui';
import { useNow } from '../../lib/useNow';
import { describeFilters, EnabledSwitch, EventChips, LastDeliveryCell } from './parts';

const th = 'px-3 py-2.5 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500 whitespace-nowrap';
const td = 'px-3 py-3 align-middle';

export function useDeleteWebhook(onDone?: () => void) {
  const client = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: (w: Webhook) => api.deleteWebhook(w.id).then(() => w),
    onSuccess: (w) => {
      client.removeQueries({ queryKey: keys.webhook(w.id) });
      client.removeQueries({ queryKey: keys.webhookDeliveries(w.id) });
      void client.invalidateQueries({ queryKey: keys.webhooks() });
      toast('success', `Webhook to ${w.url} deleted`);
      onDone?.();
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });
}

export function useWorkflowNames(): (id: string) => string {
  const workflows = useWorkflows();
  return (id) => workflows.data?.workflows.find((w) => w.id === id)?.name ?? id.slice(0, 8);
}

export function WebhooksPage() {
  const list = useWebhooks();
  const now = useNow(15_000);
  const remove = useDeleteWebhook();
  const workflowName = useWorkflowNames();
  const admin = useCan('admin');
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  const webhooks = list.data?.webhooks ?? [];
  const newLink = 'inline-flex items-center gap-1.5 rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-500';
  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Conveyor POSTs signed JSON to your endpoints when jobs succeed or die and when workflow runs finish, retrying until they answer 2xx."
        actions={
          <GatedLink need="admin" to="/webhooks/new" data-testid="new-webhook" className={newLink}>
            <Plus className="size-4" aria-hidden /> New webhook
          </GatedLink>
        }
      />
      <Card bodyClassName="">
        {list.isPending ? (
          <TableSkeleton rows={3} cols={6} />
        ) : list.isError ? (
          <div className="p-5">
            <LoadError error={list.error} feature="Webhooks" onRetry={() => void list.refetch()} />
          </div>
        ) : webhooks.length === 0 ? (
          <EmptyState title="No webhooks yet" icon={<WebhookIcon className="size-5" />}>
            Tell a chat channel, a pager or your own service when jobs die or runs finish.{' '}
            {admin.allowed && (
              <Link className="font-medium text-indigo-600" to="/webhooks/new">
                Create a webhook
              </Link>
            )}
          </EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table className="min-w-full text-sm" data-testid="webhooks-table">
              <thead className="border-b border-slate-200 bg-slate-50/80">
                <tr>
                  <th className={`${th} pl-5`}>URL</th>
                  <th className={th}>Events</th>
                  <th className={th}>Filters</th>
                  <th className={th}>Enabled</th>
                  <th className={th}>Last delivery</th>
                  <th className={`${th} pr-5`}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {webhooks.map((w) => (
                  <tr key={w.id} data-webhook-id={w.id} data-url={w.url} className="hover:bg-slate-50">
                    <td className={`${td} max-w-[26rem] pl-5`}>
                      <Link to={`/webhooks/${w.id}`} className="block truncate font-mono text-[0.8rem] font-medium text-slate-900 hover:text-indigo-600" title={w.url}>
                        {w.url}
                      </Link>
                      {w.description && <p className="truncate text-xs text-slate-500">{w.description}</p>}
                    </td>
                    <td className={td}>
                      <EventChips events={w.events} />
                    </td>
                    <td className={`${td} max-w-[16rem] truncate text-xs text-slate-600`} title={describeFilters(w, workflowName)}>
                      {describeFilters(w, workflowName)}
                    </td>
                    <td className={td}>
                      <EnabledSwitch webhook={w} />
                    </td>
                    <td className={td}>
                      <LastDeliveryCell last={w.last_delivery} now={now} />
                    </td>
                    <td className={`${td} pr-5`}>
                      <div className="flex justify-end gap-1">
                        {admin.allowed ? (
                          <>
                            <Link to={`/webhooks/${w.id}/edit`} aria-label={`Edit ${w.url}`} className="rounded-md p-1.5 text-slate-400 hover:bg-slate-100 hover:text-slate-700">
                              <Pencil className="size-4" />
                            </Link>
                            <button type="button" aria-label={`Delete ${w.url}`} onClick={() => setDeleting(w)} className="rounded-md p-1.5 text-slate-400 hover:bg-rose-50 hover:text-rose-600">
                              <Trash2 className="size-4" />
                            </button>
                          </>
                        ) : (
                          <Denied reason={admin.reason ?? ''}>
                            <span className="flex gap-1 p-1.5 text-slate-300">
                              <Pencil className="size-4" aria-hidden />
                              <Trash2 className="size-4" aria-hidden />
                            </span>
                          </Denied>
                        )}
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
        title="Delete this webhook?"
        confirmLabel="Delete webhook"
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
      >
        Nothing more is sent to <span className="font-mono">{deleting?.url}</span>, pending retries included, and its delivery log goes with it.
      </ConfirmDialog>
    </>
  );
}

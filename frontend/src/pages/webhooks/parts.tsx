// Pieces shared by the webhook list and detail pages.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import clsx from 'clsx';
import { api } from '../../api/endpoints';
import { keys } from '../../api/queries';
import type { DeliveryStatus, LastDelivery, Webhook, WebhookList } from '../../api/types';
import { useCan } from '../../auth/session';
import { useToast } from '../../components/toast';
import { Denied } from '../../components/ui';
import { formatFullTime, formatRelative } from '../../lib/format';

const DELIVERY_TONE: Record<DeliveryStatus, { badge: string; dot: string }> = {
  pending: { badge: 'bg-amber-50 text-amber-800 ring-amber-600/20', dot: 'bg-amber-500' },
  succeeded: { badge: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20', dot: 'bg-emerald-500' },
  failed: { badge: 'bg-rose-50 text-rose-700 ring-rose-600/20', dot: 'bg-rose-500' },
};

export function DeliveryStatusBadge({ status, testId }: { status: DeliveryStatus; testId?: string }) {
  const tone = DELIVERY_TONE[status] ?? DELIVERY_TONE.pending;
  return (
    <span
      data-testid={testId}
      data-status={status}
      className={clsx('inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap ring-1 ring-inset', tone.badge)}
    >
      <span className={clsx('size-1.5 rounded-full', tone.dot, status === 'pending' && 'animate-pulse')} />
      {status}
    </span>
  );
}

/** The newest delivery of a webhook (as the list answers it): its status and when. */
export function LastDeliveryCell({ last, now }: { last: LastDelivery | null | undefined; now: number }) {
  if (!last) return <span className="text-slate-400" data-testid="last-delivery" data-status="none">none yet</span>;
  const at = last.delivered_at ?? last.created_at;
  return (
    <span className="inline-flex items-center gap-2" data-testid="last-delivery" data-status={last.status} title={`${last.event}, ${formatFullTime(at)}${last.last_status_code ? `, HTTP ${last.last_status_code}` : ''}`}>
      <DeliveryStatusBadge status={last.status} />
      <span className="text-xs whitespace-nowrap text-slate-500">{formatRelative(at, now)}</span>
    </span>
  );
}

/** Turns a webhook on or off (PATCH {enabled}), shown as a switch. */
export function useToggleWebhook() {
  const client = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: ({ id, enabled }: { id: string; enabled: boolean }) => api.updateWebhook(id, { enabled }),
    onMutate: ({ id, enabled }) => {
      client.setQueryData<WebhookList>(keys.webhooks(), (old) => (old ? { webhooks: old.webhooks.map((w) => (w.id === id ? { ...w, enabled } : w)) } : old));
      client.setQueryData<Webhook>(keys.webhook(id), (old) => (old ? { ...old, enabled } : old));
    },
    onSuccess: (saved) => {
      client.setQueryData(keys.webhook(saved.id), saved);
      toast('success', saved.enabled ? 'Webhook enabled' : 'Webhook disabled: nothing is sent until it is enabled again');
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
    onSettled: () => void client.invalidateQueries({ queryKey: keys.webhooks() }),
  });
}

export function EnabledSwitch({ webhook }: { webhook: Webhook }) {
  const toggle = useToggleWebhook();
  const { reason } = useCan('admin');
  const pending = toggle.isPending && toggle.variables?.id === webhook.id;
  const on = webhook.enabled;
  const button = (
    <button
      type="button"
      role="switch"
      aria-checked={on}
      aria-label={`${on ? 'Disable' : 'Enable'} webhook ${webhook.url}`}
      data-testid="webhook-enabled-switch"
      disabled={pending || reason !== null}
      onClick={() => toggle.mutate({ id: webhook.id, enabled: !on })}
      className={clsx(
        'relative inline-flex h-5 w-9 shrink-0 items-center rounded-full transition-colors disabled:cursor-not-allowed disabled:opacity-60',
        on ? 'bg-emerald-500' : 'bg-slate-300',
      )}
    >
      <span className={clsx('inline-block size-4 rounded-full bg-white shadow transition-transform', on ? 'translate-x-4.5' : 'translate-x-0.5')} />
    </button>
  );
  return reason ? <Denied reason={reason}>{button}</Denied> : button;
}

export function EventChips({ events }: { events: readonly string[] }) {
  return (
    <div className="flex flex-wrap gap-1">
      {events.map((e) => (
        <code key={e} className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-[0.7rem] text-slate-700">
          {e}
        </code>
      ))}
    </div>
  );
}

/** "queues default, emails · workflows nightly"; "every queue and workflow". */
export function describeFilters(w: Pick<Webhook, 'queues' | 'workflow_ids'>, workflowName: (id: string) => string = (id) => id): string {
  const parts: string[] = [];
  if (w.queues?.length) parts.push(`queue${w.queues.length > 1 ? 's' : ''} ${w.queues.join(', ')}`);
  if (w.workflow_ids?.length) parts.push(`workflow${w.workflow_ids.length > 1 ? 's' : ''} ${w.workflow_ids.map(workflowName).join(', ')}`);
  return parts.length ? parts.join(' · ') : 'every queue and workflow';
}

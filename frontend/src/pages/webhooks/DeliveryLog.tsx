// A webhook's deliveries, newest first, a page at a time: status, attempts,
// the receiver's last answer, the next retry, the payload, and redeliver.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import clsx from 'clsx';
import { ChevronDown, ChevronRight, RotateCcw, Send } from 'lucide-react';
import { Fragment, useState } from 'react';
import { api } from '../../api/endpoints';
import { keys, useDeliveries } from '../../api/queries';
import { DELIVERY_STATUSES, type Delivery, type DeliveryStatus } from '../../api/types';
import { CodeBlock } from '../../components/CodeBlock';
import { useToast } from '../../components/toast';
import { Button, Card, EmptyState, LoadError, Mono, TableSkeleton } from '../../components/ui';
import { inputCls } from '../../forms/fields';
import { formatFullTime, formatRelative } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { DeliveryStatusBadge } from './parts';

export const DELIVERIES_PER_PAGE = 20;

const th = 'px-3 py-2.5 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500 whitespace-nowrap';
const td = 'px-3 py-2.5 align-middle';

function StatusCode({ code }: { code: number | null | undefined }) {
  if (code === null || code === undefined) return <span className="text-slate-300">—</span>;
  const tone = code >= 200 && code < 300 ? 'text-emerald-700' : code >= 500 ? 'text-rose-700' : 'text-amber-700';
  return <Mono className={clsx('font-medium', tone)}>{code}</Mono>;
}

export function DeliveryLog({ webhookId, pollUntil, onRedelivered }: { webhookId: string; pollUntil?: number; onRedelivered?: () => void }) {
  const [status, setStatus] = useState<DeliveryStatus | ''>('');
  // The cursors of the pages before this one, to go back.
  const [trail, setTrail] = useState<(string | undefined)[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const now = useNow(1_000);
  const client = useQueryClient();
  const toast = useToast();
  const params = { status: status || undefined, limit: DELIVERIES_PER_PAGE, cursor };
  const page = useDeliveries(webhookId, params, pollUntil === undefined ? {} : { pollUntil });

  const redeliver = useMutation({
    mutationFn: (d: Delivery) => api.redeliver(d.id),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.webhookDeliveries(webhookId) });
      toast('success', 'Delivery queued again');
      onRedelivered?.();
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });

  const toggle = (id: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const deliveries = page.data?.deliveries ?? [];
  const pending = deliveries.some((d) => d.status === 'pending');
  return (
    <Card
      title={
        <span className="inline-flex items-center gap-2">
          Deliveries
          {pending && (
            <span className="text-xs font-normal text-slate-400" data-testid="deliveries-polling">
              refreshing while some are pending
            </span>
          )}
        </span>
      }
      actions={
        <select
          aria-label="Delivery status"
          data-testid="delivery-status-filter"
          value={status}
          onChange={(e) => {
            setStatus(e.target.value as DeliveryStatus | '');
            setCursor(undefined);
            setTrail([]);
          }}
          className={inputCls('w-36 py-1 text-xs')}
        >
          <option value="">Any status</option>
          {DELIVERY_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      }
      bodyClassName=""
    >
      {page.isPending ? (
        <TableSkeleton rows={4} cols={7} />
      ) : page.isError ? (
        <div className="p-5">
          <LoadError error={page.error} feature="Webhook deliveries" onRetry={() => void page.refetch()} />
        </div>
      ) : deliveries.length === 0 ? (
        <EmptyState title={status ? `No ${status} deliveries` : 'No deliveries yet'} icon={<Send className="size-5" />}>
          {status ? 'Choose another status.' : 'Deliveries appear here when a subscribed event happens, or after “Send test”.'}
        </EmptyState>
      ) : (
        <div className="overflow-x-auto">
          <table className="min-w-full text-sm" data-testid="deliveries-table">
            <thead className="border-b border-slate-200 bg-slate-50/80">
              <tr>
                <th className={`${th} w-8 pl-4`}>
                  <span className="sr-only">Payload</span>
                </th>
                <th className={th}>Event</th>
                <th className={th}>Status</th>
                <th className={`${th} text-right`}>Attempts</th>
                <th className={th}>Last answer</th>
                <th className={th}>Next attempt</th>
                <th className={th}>Created</th>
                <th className={`${th} pr-5`}>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {deliveries.map((d) => {
                const expanded = open.has(d.id);
                return (
                  <Fragment key={d.id}>
                    <tr data-testid="delivery" data-delivery-id={d.id} data-event={d.event} data-status={d.status} className="hover:bg-slate-50">
                      <td className={`${td} pl-4`}>
                        <button
                          type="button"
                          aria-expanded={expanded}
                          aria-label={`${expanded ? 'Hide' : 'Show'} the payload`}
                          data-testid="toggle-payload"
                          onClick={() => toggle(d.id)}
                          className="rounded p-0.5 text-slate-400 hover:bg-slate-100 hover:text-slate-700"
                        >
                          {expanded ? <ChevronDown className="size-4" /> : <ChevronRight className="size-4" />}
                        </button>
                      </td>
                      <td className={td}>
                        <code className="font-mono text-xs text-slate-800">{d.event}</code>
                      </td>
                      <td className={td}>
                        <DeliveryStatusBadge status={d.status} testId="delivery-status" />
                      </td>
                      <td className={`${td} text-right tabular-nums`} data-testid="delivery-attempts">
                        {d.attempts}
                      </td>
                      <td className={`${td} max-w-[22rem]`}>
                        <div className="flex items-center gap-2">
                          <span data-testid="delivery-code">
                            <StatusCode code={d.last_status_code} />
                          </span>
                          {d.last_error && (
                            <span className="truncate text-xs text-rose-700" title={d.last_error} data-testid="delivery-error">
                              {d.last_error}
                            </span>
                          )}
                        </div>
                      </td>
                      <td className={`${td} whitespace-nowrap text-slate-600`} title={d.next_attempt_at ? formatFullTime(d.next_attempt_at) : undefined}>
                        {d.status === 'pending' && d.next_attempt_at ? formatRelative(d.next_attempt_at, now) : <span className="text-slate-300">—</span>}
                      </td>
                      <td className={`${td} whitespace-nowrap text-slate-600`} title={formatFullTime(d.created_at)}>
                        {formatRelative(d.created_at, now)}
                        {d.delivered_at && <span className="block text-xs text-slate-400">delivered {formatRelative(d.delivered_at, now)}</span>}
                      </td>
                      <td className={`${td} pr-5 text-right`}>
                        <Button
                          size="sm"
                          need="admin"
                          data-testid="redeliver"
                          disabled={d.status === 'pending'}
                          title={d.status === 'pending' ? 'Still being delivered' : 'Send the same payload again, as a new delivery'}
                          busy={redeliver.isPending && redeliver.variables?.id === d.id}
                          onClick={() => redeliver.mutate(d)}
                        >
                          <RotateCcw className="size-3.5" aria-hidden /> Redeliver
                        </Button>
                      </td>
                    </tr>
                    {expanded && (
                      <tr className="bg-slate-50/60">
                        <td />
                        <td colSpan={7} className="px-3 pt-1 pb-4 pr-5">
                          <p className="mb-1 text-xs font-medium text-slate-500">Payload sent</p>
                          <CodeBlock value={d.payload} testId="delivery-payload" maxHeight="max-h-80" />
                          {d.response_excerpt && (
                            <>
                              <p className="mt-3 mb-1 text-xs font-medium text-slate-500">The receiver’s last answer (first KiB)</p>
                              <CodeBlock value={d.response_excerpt} testId="delivery-response" maxHeight="max-h-40" />
                            </>
                          )}
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {(trail.length > 0 || page.data?.next_cursor) && (
        <div className="flex items-center justify-end gap-2 border-t border-slate-100 px-5 py-2.5">
          <span className="mr-auto text-xs text-slate-500">Page {trail.length + 1}</span>
          <Button
            size="sm"
            variant="ghost"
            disabled={trail.length === 0}
            data-testid="deliveries-newer"
            onClick={() => {
              setCursor(trail[trail.length - 1]);
              setTrail((t) => t.slice(0, -1));
            }}
          >
            Newer
          </Button>
          <Button
            size="sm"
            variant="ghost"
            disabled={!page.data?.next_cursor}
            data-testid="deliveries-older"
            onClick={() => {
              setTrail((t) => [...t, cursor]);
              setCursor(page.data?.next_cursor ?? undefined);
            }}
          >
            Older
          </Button>
        </div>
      )}
    </Card>
  );
}

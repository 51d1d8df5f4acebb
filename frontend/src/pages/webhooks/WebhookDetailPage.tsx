// One webhook: its settings, Send test, rotate the secret (shown once),
// edit, delete, and the delivery log.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { KeyRound, Pencil, Send, Trash2 } from 'lucide-react';
import { useState, type ReactNode } from 'react';
import { useNavigate, useParams } from 'react-router';
import { api } from '../../api/endpoints';
import { keys, useWebhook } from '../../api/queries';
import { ConfirmDialog } from '../../components/Dialog';
import { SecretBox } from '../../components/SecretBox';
import { useToast } from '../../components/toast';
import { Button, Card, GatedLink, LoadError, PageHeader, Skeleton } from '../../components/ui';
import { formatFullTime, formatRelative } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { DeliveryLog } from './DeliveryLog';
import { EnabledSwitch, EventChips } from './parts';
import { SigningNote } from './WebhookFormPage';
import { useDeleteWebhook, useWorkflowNames } from './WebhooksPage';

/** How long the log is polled after "Send test", for the new delivery to show. */
const POLL_AFTER_ACTION_MS = 20_000;

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="grid grid-cols-3 gap-4 py-2.5">
      <dt className="text-sm text-slate-500">{label}</dt>
      <dd className="col-span-2 min-w-0 text-sm text-slate-800">{children}</dd>
    </div>
  );
}

export function WebhookDetailPage() {
  const { id = '' } = useParams();
  const webhook = useWebhook(id);
  const client = useQueryClient();
  const toast = useToast();
  const navigate = useNavigate();
  const now = useNow(30_000);
  const workflowName = useWorkflowNames();
  const [secret, setSecret] = useState<string | null>(null);
  const [confirmRotate, setConfirmRotate] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [pollUntil, setPollUntil] = useState<number | undefined>(undefined);
  const remove = useDeleteWebhook(() => navigate('/webhooks'));

  const poll = () => setPollUntil(Date.now() + POLL_AFTER_ACTION_MS);
  const test = useMutation({
    mutationFn: () => api.testWebhook(id),
    onSuccess: () => {
      poll();
      void client.invalidateQueries({ queryKey: keys.webhookDeliveries(id) });
      toast('success', 'Test delivery queued: a “ping” event');
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });
  const rotate = useMutation({
    mutationFn: () => api.rotateWebhookSecret(id),
    onSuccess: (r) => {
      setSecret(r.secret);
      toast('success', 'New secret made; the old one no longer signs deliveries');
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });

  const w = webhook.data;
  return (
    <>
      <PageHeader
        title="Webhook"
        description={w ? <span className="font-mono break-all" data-testid="webhook-url">{w.url}</span> : undefined}
        actions={
          w && (
            <>
              <Button variant="primary" need="admin" data-testid="send-test" busy={test.isPending} onClick={() => test.mutate()} title={w.enabled ? 'Queue a “ping” delivery now' : 'Queue a “ping” delivery (sent even while disabled)'}>
                <Send className="size-4" aria-hidden /> Send test
              </Button>
              <GatedLink
                need="admin"
                to={`/webhooks/${w.id}/edit`}
                data-testid="edit-webhook"
                className="inline-flex items-center gap-1.5 rounded-md bg-white px-3 py-1.5 text-sm font-medium text-slate-700 shadow-sm ring-1 ring-slate-300 ring-inset hover:bg-slate-50"
              >
                <Pencil className="size-4" aria-hidden /> Edit
              </GatedLink>
              <Button need="admin" data-testid="rotate-secret" busy={rotate.isPending} onClick={() => setConfirmRotate(true)}>
                <KeyRound className="size-4" aria-hidden /> Rotate secret
              </Button>
              <Button variant="danger" need="admin" data-testid="delete-webhook" aria-label="Delete webhook" onClick={() => setConfirmDelete(true)}>
                <Trash2 className="size-4" aria-hidden />
              </Button>
            </>
          )
        }
      />
      {webhook.isPending ? (
        <Skeleton className="h-48 w-full rounded-xl" />
      ) : webhook.isError || !w ? (
        <LoadError error={webhook.error} feature="Webhooks" onRetry={() => void webhook.refetch()} />
      ) : (
        <div className="space-y-6">
          {secret && (
            <SecretBox title="New signing secret" secret={secret} testId="webhook-secret" onDismiss={() => setSecret(null)}>
              <SigningNote />
            </SecretBox>
          )}
          <Card title="Settings">
            <dl className="divide-y divide-slate-100">
              <Row label="Enabled">
                <span className="inline-flex items-center gap-2">
                  <EnabledSwitch webhook={w} />
                  <span className="text-slate-600">{w.enabled ? 'sending' : 'paused: nothing is sent'}</span>
                </span>
              </Row>
              <Row label="Events">
                <EventChips events={w.events} />
              </Row>
              <Row label="Queues">{w.queues?.length ? <span className="font-mono text-[0.8rem]">{w.queues.join(', ')}</span> : <span className="text-slate-500">every queue</span>}</Row>
              <Row label="Workflows">
                {w.workflow_ids?.length ? <span className="font-mono text-[0.8rem]">{w.workflow_ids.map(workflowName).join(', ')}</span> : <span className="text-slate-500">every workflow</span>}
              </Row>
              {w.description && <Row label="Description">{w.description}</Row>}
              <Row label="Created">
                <span title={formatFullTime(w.created_at)}>{formatRelative(w.created_at, now)}</span>
              </Row>
            </dl>
          </Card>
          <DeliveryLog webhookId={w.id} {...(pollUntil === undefined ? {} : { pollUntil })} onRedelivered={poll} />
        </div>
      )}
      <ConfirmDialog
        open={confirmRotate}
        title="Rotate the signing secret?"
        confirmLabel="Rotate secret"
        onClose={() => setConfirmRotate(false)}
        onConfirm={() => rotate.mutate()}
      >
        A new secret signs every delivery from now on; receivers that check signatures with the old one reject them until they are given the new one. The new secret is shown once.
      </ConfirmDialog>
      <ConfirmDialog open={confirmDelete} title="Delete this webhook?" confirmLabel="Delete webhook" onClose={() => setConfirmDelete(false)} onConfirm={() => w && remove.mutate(w)}>
        Nothing more is sent to <span className="font-mono">{w?.url}</span>, pending retries included, and its delivery log goes with it.
      </ConfirmDialog>
    </>
  );
}

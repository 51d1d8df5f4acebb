import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api } from '../../api/endpoints';
import { keys, useWebhook, useWorkflows } from '../../api/queries';
import type { CreatedWebhook } from '../../api/types';
import { SecretBox } from '../../components/SecretBox';
import { useToast } from '../../components/toast';
import { LoadError, PageHeader, Skeleton } from '../../components/ui';
import { useKnownQueues } from '../../lib/known';
import { WebhookForm } from './WebhookForm';
import { EMPTY_WEBHOOK_FORM, formFromWebhook, patchFor } from './webhookForm';

function useFormOptions() {
  const workflows = useWorkflows();
  return {
    knownQueues: useKnownQueues(),
    workflows: workflows.data?.workflows.map((w) => ({ id: w.id, name: w.name })) ?? (workflows.isError ? [] : undefined),
  };
}

/** How a receiver checks a delivery, next to the secret. */
export function SigningNote() {
  return (
    <>
      Receivers check each delivery with it: the <code className="font-mono text-xs">Conveyor-Signature</code> header is{' '}
      <code className="font-mono text-xs">t=&lt;timestamp&gt;,v1=&lt;hex HMAC-SHA256 of “timestamp.body”&gt;</code>.
    </>
  );
}

export function NewWebhookPage() {
  const options = useFormOptions();
  const client = useQueryClient();
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  if (created) {
    const w = created.webhook;
    return (
      <>
        <PageHeader title="Webhook created" description={<span className="font-mono">{w.url}</span>} />
        <SecretBox title="Signing secret" secret={created.secret} testId="webhook-secret">
          <SigningNote />
        </SecretBox>
        <div className="mt-6 flex gap-2">
          <Link to={`/webhooks/${w.id}`} data-testid="open-webhook" className="inline-flex items-center gap-1.5 rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-500">
            I have saved it: open the webhook
          </Link>
          <Link to="/webhooks" className="inline-flex items-center rounded-md bg-white px-3 py-1.5 text-sm font-medium text-slate-700 shadow-sm ring-1 ring-slate-300 ring-inset hover:bg-slate-50">
            All webhooks
          </Link>
        </div>
      </>
    );
  }
  return (
    <>
      <PageHeader title="New webhook" description="POSTs to a URL of yours when jobs succeed or die, or workflow runs finish." />
      <WebhookForm
        initial={EMPTY_WEBHOOK_FORM}
        editing={false}
        onSubmit={async (spec) => {
          const result = await api.createWebhook(spec);
          client.setQueryData(keys.webhook(result.webhook.id), result.webhook);
          void client.invalidateQueries({ queryKey: keys.webhooks() });
          setCreated(result);
        }}
        {...options}
      />
    </>
  );
}

export function EditWebhookPage() {
  const { id = '' } = useParams();
  const webhook = useWebhook(id);
  const options = useFormOptions();
  const client = useQueryClient();
  const toast = useToast();
  const navigate = useNavigate();
  const original = webhook.data;
  return (
    <>
      <PageHeader title="Edit webhook" description={original ? <span className="font-mono">{original.url}</span> : undefined} />
      {webhook.isPending ? (
        <Skeleton className="h-96 w-full rounded-xl" />
      ) : webhook.isError || !original ? (
        <LoadError error={webhook.error} feature="Webhooks" onRetry={() => void webhook.refetch()} />
      ) : (
        <WebhookForm
          key={original.id}
          initial={formFromWebhook(original)}
          editing
          requestBody={(spec) => patchFor(original, spec)}
          onSubmit={async (spec) => {
            const saved = await api.updateWebhook(original.id, patchFor(original, spec));
            client.setQueryData(keys.webhook(saved.id), saved);
            void client.invalidateQueries({ queryKey: keys.webhooks() });
            toast('success', 'Webhook saved');
            navigate(`/webhooks/${saved.id}`);
          }}
          {...options}
        />
      )}
    </>
  );
}

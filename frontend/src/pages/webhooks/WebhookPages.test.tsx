import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Delivery, Webhook } from '../../api/types';
import { fakeApi, renderPage } from '../../test/render';
import { WebhookDetailPage } from './WebhookDetailPage';
import { NewWebhookPage } from './WebhookFormPage';
import { WebhooksPage } from './WebhooksPage';

afterEach(() => vi.unstubAllGlobals());

const WF = '6f1c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f';
const admin = { auth: 'cookie', name: 'root', scope: 'admin' } as const;
const reader = { auth: 'cookie', name: 'viewer', scope: 'read' } as const;

const hook: Webhook = {
  id: 'w1',
  url: 'https://hooks.example.com/a',
  events: ['job.dead', 'workflow_run.finished'],
  queues: ['default'],
  workflow_ids: [WF],
  description: 'the pager',
  enabled: true,
  created_at: '2030-01-01T00:00:00Z',
  updated_at: '2030-01-01T00:00:00Z',
};

const delivery = (over: Partial<Delivery>): Delivery => ({
  id: 'd1',
  webhook_id: 'w1',
  event: 'job.dead',
  status: 'failed',
  attempts: 5,
  next_attempt_at: '2030-01-01T00:00:00Z',
  last_status_code: 502,
  last_error: 'bad gateway',
  created_at: '2030-01-01T00:00:00Z',
  delivered_at: null,
  payload: { event: 'job.dead', job: { id: 'j1', name: 'nightly' } },
  ...over,
});

const basics = {
  'GET /workflows': { workflows: [{ id: WF, name: 'nightly-etl' }] },
  'GET /queues': { queues: [{ queue: 'default', scheduled: 0, queued: 0, running: 0, dead: 0 }, { queue: 'emails', scheduled: 0, queued: 0, running: 0, dead: 0 }] },
  'GET /workers': { workers: [] },
};

describe('New webhook', () => {
  it('checks the form, shows the server’s 422 at its field, then the secret once', async () => {
    const sent: unknown[] = [];
    fakeApi({
      ...basics,
      'POST /webhooks': (body: unknown) => {
        sent.push(body);
        if (sent.length === 1) return [422, { error: { code: 'validation_failed', message: 'queues[1]: no queue may be named "emails" here', details: { field: 'queues[1]' } } }];
        return [201, { webhook: { ...hook, id: 'w9' }, secret: 'whsec_0123456789' }];
      },
    });
    const user = userEvent.setup();
    renderPage(<NewWebhookPage />, '/webhooks/new', admin);

    await user.click(screen.getByTestId('event-job.dead')); // the default, now unticked
    await user.click(screen.getByTestId('submit-webhook'));
    expect(screen.getByTestId('error-url')).toHaveTextContent('is required');
    expect(screen.getByTestId('error-events')).toHaveTextContent('choose at least one event');
    expect(sent).toEqual([]);

    await user.type(screen.getByLabelText('URL'), 'https://hooks.example.com/a');
    await user.click(screen.getByTestId('event-job.dead'));
    await user.click(screen.getByTestId('event-workflow_run.finished'));
    await user.type(screen.getByLabelText('Queues'), 'default, emails');
    await user.click(await screen.findByText('nightly-etl'));
    await user.type(screen.getByLabelText('Description'), 'the pager');
    await user.click(screen.getByTestId('submit-webhook'));
    expect(await screen.findByTestId('error-queues')).toHaveTextContent('no queue may be named "emails" here');
    expect(screen.queryByTestId('error-url')).not.toBeInTheDocument();
    expect(sent[0]).toEqual({
      url: 'https://hooks.example.com/a',
      events: ['job.dead', 'workflow_run.finished'],
      queues: ['default', 'emails'],
      workflow_ids: [WF],
      description: 'the pager',
      enabled: true,
    });

    // Editing the field clears the server's message.
    await user.clear(screen.getByLabelText('Queues'));
    await user.type(screen.getByLabelText('Queues'), 'default');
    expect(screen.queryByTestId('error-queues')).not.toBeInTheDocument();
    await user.click(screen.getByTestId('submit-webhook'));
    expect(await screen.findByTestId('webhook-secret')).toHaveValue('whsec_0123456789');
    expect(screen.getByTestId('webhook-secret-note')).toHaveTextContent('you will not see it again');
    expect(screen.getByTestId('open-webhook')).toHaveAttribute('href', '/webhooks/w9');
  });
});

describe('Webhook detail', () => {
  function renderDetail(session: typeof admin | typeof reader = admin) {
    return renderPage(
      <Routes>
        <Route path="/webhooks/:id" element={<WebhookDetailPage />} />
      </Routes>,
      '/webhooks/w1',
      session,
    );
  }

  it('sends a test, shows the deliveries with their payload, and redelivers', async () => {
    const deliveries = [delivery({})];
    const { calls } = fakeApi({
      ...basics,
      'GET /webhooks/w1': hook,
      'GET /webhooks/w1/deliveries': () => ({ deliveries, next_cursor: null }),
      'POST /webhooks/w1/test': () => {
        deliveries.unshift(delivery({ id: 'd2', event: 'ping', status: 'succeeded', attempts: 1, last_status_code: 200, last_error: null, delivered_at: '2030-01-01T00:00:01Z', payload: { event: 'ping' } }));
        return [202, null];
      },
      'POST /webhook-deliveries/d1/redeliver': () => [202, null],
    });
    const user = userEvent.setup();
    renderDetail();

    const failed = await screen.findByTestId('delivery');
    expect(failed).toHaveAttribute('data-status', 'failed');
    expect(within(failed).getByTestId('delivery-code')).toHaveTextContent('502');
    expect(within(failed).getByTestId('delivery-error')).toHaveTextContent('bad gateway');
    expect(within(failed).getByTestId('delivery-attempts')).toHaveTextContent('5');
    expect(screen.getByText('nightly-etl')).toBeInTheDocument(); // the workflow filter, by name

    await user.click(within(failed).getByTestId('toggle-payload'));
    expect(screen.getByTestId('delivery-payload')).toHaveTextContent('"nightly"');

    await user.click(screen.getByTestId('send-test'));
    await waitFor(() => expect(screen.getAllByTestId('delivery')).toHaveLength(2));
    const ping = screen.getAllByTestId('delivery')[0] as HTMLElement;
    expect(ping).toHaveAttribute('data-event', 'ping');
    expect(ping).toHaveAttribute('data-status', 'succeeded');
    expect(calls).toContain('POST /webhooks/w1/test');

    await user.click(within(screen.getAllByTestId('delivery')[1] as HTMLElement).getByTestId('redeliver'));
    await waitFor(() => expect(calls).toContain('POST /webhook-deliveries/d1/redeliver'));
  });

  it('pages through older deliveries', async () => {
    const { fetchMock } = fakeApi({
      ...basics,
      'GET /webhooks/w1': hook,
      'GET /webhooks/w1/deliveries': () => ({ deliveries: [delivery({})], next_cursor: 'c2' }),
    });
    const user = userEvent.setup();
    renderDetail();
    await screen.findByTestId('delivery');
    await user.click(screen.getByTestId('deliveries-older'));
    await waitFor(() => expect(fetchMock.mock.calls.some(([url]) => String(url).includes('cursor=c2'))).toBe(true));
    expect(screen.getByText('Page 2')).toBeInTheDocument();
    await user.click(screen.getByTestId('deliveries-newer'));
    expect(await screen.findByText('Page 1')).toBeInTheDocument();
  });

  it('keeps a read-only token to looking', async () => {
    fakeApi({
      ...basics,
      'GET /webhooks/w1': hook,
      'GET /webhooks/w1/deliveries': { deliveries: [delivery({})], next_cursor: null },
    });
    renderDetail(reader);
    await screen.findByTestId('delivery');
    for (const id of ['send-test', 'rotate-secret', 'delete-webhook', 'redeliver', 'webhook-enabled-switch']) expect(screen.getByTestId(id)).toBeDisabled();
    expect(screen.getByTestId('edit-webhook')).toHaveAttribute('aria-disabled', 'true');
  });
});

describe('Webhooks list', () => {
  it('lists URL, events, filters and the last delivery, and toggles enabled', async () => {
    let enabled = true;
    const patches: unknown[] = [];
    fakeApi({
      ...basics,
      'GET /webhooks': () => ({
        webhooks: [{ ...hook, enabled, last_delivery: { id: 'd1', event: 'ping', status: 'succeeded', attempts: 1, last_status_code: 200, created_at: '2030-01-01T00:00:00Z', delivered_at: '2030-01-01T00:00:01Z' } }],
      }),
      'PATCH /webhooks/w1': (body: unknown) => {
        patches.push(body);
        enabled = (body as { enabled: boolean }).enabled;
        return { ...hook, enabled };
      },
    });
    const user = userEvent.setup();
    renderPage(<WebhooksPage />, '/webhooks', admin);
    const row = (await screen.findByText('https://hooks.example.com/a')).closest('tr') as HTMLElement;
    expect(row).toHaveTextContent('job.dead');
    expect(row).toHaveTextContent('workflow_run.finished');
    await waitFor(() => expect(row).toHaveTextContent('queue default · workflow nightly-etl'));
    await waitFor(() => expect(within(row).getByTestId('last-delivery')).toHaveAttribute('data-status', 'succeeded'));
    const toggle = within(row).getByTestId('webhook-enabled-switch');
    expect(toggle).toHaveAttribute('aria-checked', 'true');
    await user.click(toggle);
    await waitFor(() => expect(toggle).toHaveAttribute('aria-checked', 'false'));
    expect(patches).toEqual([{ enabled: false }]);
  });

  it('offers no New webhook to a read-only token', async () => {
    fakeApi({ ...basics, 'GET /webhooks': { webhooks: [] } });
    renderPage(<WebhooksPage />, '/webhooks', reader);
    await screen.findByText('No webhooks yet');
    expect(screen.getByTestId('new-webhook')).toHaveAttribute('aria-disabled', 'true');
    expect(screen.getByTestId('new-webhook').closest('[title]')).toHaveAttribute('title', 'Needs the admin scope; your token has read');
  });
});

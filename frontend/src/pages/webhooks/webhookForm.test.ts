import { describe, expect, it } from 'vitest';
import type { Webhook } from '../../api/types';
import { deliveriesRefetchInterval } from '../../api/queries';
import { EMPTY_WEBHOOK_FORM, formField, formFromWebhook, parseList, patchFor, urlProblem, validateWebhookForm } from './webhookForm';

const WF = '6f1c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f';

describe('validateWebhookForm', () => {
  it('builds the request from a valid form', () => {
    const { errors, spec } = validateWebhookForm({
      ...EMPTY_WEBHOOK_FORM,
      url: ' https://hooks.example.com/conveyor ',
      events: ['workflow_run.finished', 'job.dead'],
      queues: 'default, emails\nemails  reports',
      workflowIds: [WF, WF],
      description: '  pager  ',
    });
    expect(errors).toEqual({});
    expect(spec).toEqual({
      url: 'https://hooks.example.com/conveyor',
      // In the documented order, whatever order they were ticked in.
      events: ['job.dead', 'workflow_run.finished'],
      queues: ['default', 'emails', 'reports'],
      workflow_ids: [WF],
      description: 'pager',
      enabled: true,
    });
  });

  it('sends no description when there is none, and empty filters as empty lists', () => {
    const { spec } = validateWebhookForm({ ...EMPTY_WEBHOOK_FORM, url: 'http://127.0.0.1:9000/hook' });
    expect(spec).toEqual({ url: 'http://127.0.0.1:9000/hook', events: ['job.dead'], queues: [], workflow_ids: [], enabled: true });
  });

  it('names each bad field', () => {
    const { errors, spec } = validateWebhookForm({
      ...EMPTY_WEBHOOK_FORM,
      url: 'ftp://example.com',
      events: [],
      queues: 'ok, not/a/queue',
      workflowIds: ['nope'],
      description: 'x'.repeat(1001),
    });
    expect(spec).toBeNull();
    expect(errors['url']).toMatch(/http:\/\/ or https:\/\//);
    expect(errors['events']).toBe('choose at least one event');
    expect(errors['queues']).toMatch(/"not\/a\/queue" is not a queue name/);
    expect(errors['workflow_ids']).toMatch(/"nope" is not a workflow id/);
    expect(errors['description']).toMatch(/at most 1000/);
  });
});

describe('urlProblem', () => {
  it('wants an absolute http(s) URL without credentials', () => {
    expect(urlProblem('')).toMatch(/required/);
    expect(urlProblem('hooks.example.com')).toMatch(/absolute URL/);
    expect(urlProblem('https://user:pw@hooks.example.com/')).toMatch(/user name or password/);
    expect(urlProblem(`https://example.com/${'a'.repeat(2100)}`)).toMatch(/at most 2048/);
    expect(urlProblem('https://hooks.example.com/x?y=1')).toBeNull();
  });
});

describe('parseList', () => {
  it('splits on commas and whitespace, drops empties and repeats', () => {
    expect(parseList(' a,b ,, c\n a ')).toEqual(['a', 'b', 'c']);
    expect(parseList('')).toEqual([]);
  });
});

const stored: Webhook = {
  id: 'w1',
  url: 'https://hooks.example.com/a',
  events: ['job.dead'],
  queues: ['default'],
  workflow_ids: [],
  description: 'pager',
  enabled: true,
  created_at: '2030-01-01T00:00:00Z',
  updated_at: '2030-01-01T00:00:00Z',
};

describe('patchFor', () => {
  it('sends only what changed', () => {
    const form = formFromWebhook(stored);
    expect(patchFor(stored, validateWebhookForm(form).spec!)).toEqual({});
    const changed = validateWebhookForm({ ...form, events: ['job.dead', 'job.succeeded'], queues: 'default', description: '' }).spec!;
    expect(patchFor(stored, changed)).toEqual({ events: ['job.succeeded', 'job.dead'], description: '' });
    expect(patchFor(stored, validateWebhookForm({ ...form, enabled: false, queues: '' }).spec!)).toEqual({ enabled: false, queues: [] });
  });
});

describe('formField', () => {
  it('maps the server’s field to the form’s', () => {
    expect(formField('url')).toBe('url');
    expect(formField('queues[1]')).toBe('queues');
    expect(formField('events[0]')).toBe('events');
    expect(formField('workflow_ids[2]')).toBe('workflow_ids');
    expect(formField('secret')).toBeNull();
    expect(formField(undefined)).toBeNull();
  });
});

describe('deliveriesRefetchInterval', () => {
  const page = (...statuses: ('pending' | 'succeeded' | 'failed')[]) => ({
    next_cursor: null,
    deliveries: statuses.map((status, i) => ({
      id: `d${i}`,
      webhook_id: 'w1',
      event: 'ping',
      status,
      attempts: 1,
      next_attempt_at: '2030-01-01T00:00:00Z',
      last_status_code: null,
      last_error: null,
      created_at: '2030-01-01T00:00:00Z',
      delivered_at: null,
      payload: {},
    })),
  });

  it('polls while a delivery is pending, or for a while after an action', () => {
    expect(deliveriesRefetchInterval(page('succeeded', 'pending'))).toBe(2_000);
    expect(deliveriesRefetchInterval(page('succeeded', 'failed'))).toBe(false);
    expect(deliveriesRefetchInterval(undefined)).toBe(false);
    expect(deliveriesRefetchInterval(page(), { now: 1_000, pollUntil: 5_000 })).toBe(2_000);
    expect(deliveriesRefetchInterval(page(), { now: 6_000, pollUntil: 5_000 })).toBe(false);
  });
});

// The webhook form: state, the page's checks (the server's, as far as a page
// can know them), the request, and the server's 422 mapped to a field.
import { isWebhookEvent, WEBHOOK_EVENTS, type Webhook, type WebhookEvent, type WebhookPatch, type WebhookSpec } from '../../api/types';
import type { FieldErrors } from '../../forms/jobForm';

export interface WebhookForm {
  url: string;
  events: WebhookEvent[];
  /** Queue names, separated by commas, spaces or new lines; empty is every queue. */
  queues: string;
  /** Ids of the workflows; none is every workflow. */
  workflowIds: string[];
  description: string;
  enabled: boolean;
}

export const EMPTY_WEBHOOK_FORM: WebhookForm = {
  url: '',
  events: ['job.dead'],
  queues: '',
  workflowIds: [],
  description: '',
  enabled: true,
};

/** What each event means, for the checkboxes. */
export const EVENT_TEXT: Record<WebhookEvent, string> = {
  'job.succeeded': 'a job succeeded',
  'job.dead': 'a job failed for good (dead letter)',
  'workflow_run.finished': 'a workflow run finished: succeeded, failed or cancelled',
};

const QUEUE_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const URL_MAX = 2048;
export const DESCRIPTION_MAX = 1000;

/** "a, b\nc  d" → ["a", "b", "c", "d"], without repeats. */
export function parseList(text: string): string[] {
  const out: string[] = [];
  for (const item of text.split(/[\s,]+/)) {
    const name = item.trim();
    if (name && !out.includes(name)) out.push(name);
  }
  return out;
}

/** Why `text` is not a URL a webhook can post to, or null. */
export function urlProblem(text: string): string | null {
  if (!text) return 'is required: the address that receives the POSTs';
  if (text.length > URL_MAX) return `must be at most ${URL_MAX} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute URL, e.g. https://hooks.example.com/conveyor';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must start with http:// or https://';
  if (!url.hostname) return 'must name a host';
  if (url.username || url.password) return 'must not carry a user name or password; the signature authenticates Conveyor';
  return null;
}

export function validateWebhookForm(form: WebhookForm): { errors: FieldErrors; spec: WebhookSpec | null } {
  const errors: FieldErrors = {};
  const url = form.url.trim();
  const urlError = urlProblem(url);
  if (urlError) errors['url'] = urlError;

  const events = WEBHOOK_EVENTS.filter((e) => form.events.includes(e));
  if (events.length === 0) errors['events'] = 'choose at least one event';

  const queues = parseList(form.queues);
  const badQueue = queues.find((q) => !QUEUE_RE.test(q));
  if (badQueue) errors['queues'] = `"${badQueue}" is not a queue name: 1-64 characters of letters, digits, '_', '.', ':' or '-'`;

  const workflowIds = [...new Set(form.workflowIds)];
  const badId = workflowIds.find((id) => !UUID_RE.test(id));
  if (badId) errors['workflow_ids'] = `"${badId}" is not a workflow id`;

  const description = form.description.trim();
  if (description.length > DESCRIPTION_MAX) errors['description'] = `must be at most ${DESCRIPTION_MAX} characters`;

  if (Object.keys(errors).length) return { errors, spec: null };
  const spec: WebhookSpec = { url, events, queues, workflow_ids: workflowIds, enabled: form.enabled };
  if (description) spec.description = description;
  return { errors, spec };
}

export function formFromWebhook(w: Webhook): WebhookForm {
  return {
    url: w.url,
    events: w.events.filter(isWebhookEvent),
    queues: (w.queues ?? []).join(', '),
    workflowIds: [...(w.workflow_ids ?? [])],
    description: w.description ?? '',
    enabled: w.enabled,
  };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** The PATCH body for an edit: only what changed (an emptied description is sent as ""). */
export function patchFor(original: Webhook, spec: WebhookSpec): WebhookPatch {
  const patch: WebhookPatch = {};
  if (spec.url !== original.url) patch.url = spec.url;
  if (!sameList(spec.events, original.events)) patch.events = spec.events;
  if (!sameList(spec.queues ?? [], original.queues ?? [])) patch.queues = spec.queues ?? [];
  if (!sameList(spec.workflow_ids ?? [], original.workflow_ids ?? [])) patch.workflow_ids = spec.workflow_ids ?? [];
  if ((spec.description ?? '') !== (original.description ?? '')) patch.description = spec.description ?? '';
  if (spec.enabled !== undefined && spec.enabled !== original.enabled) patch.enabled = spec.enabled;
  return patch;
}

const FORM_FIELDS = ['url', 'events', 'queues', 'workflow_ids', 'description', 'enabled'] as const;
export type WebhookField = (typeof FORM_FIELDS)[number];

/**
 * The form field a server's 422 names: `queues[2]` is the queue list,
 * `events[0]` the events, `workflow_ids[1]` the workflows; anything this
 * form has no field for is null (shown above the form instead).
 */
export function formField(serverField: string | undefined): WebhookField | null {
  if (!serverField) return null;
  const head = serverField.split(/[.[]/)[0] ?? '';
  return (FORM_FIELDS as readonly string[]).includes(head) ? (head as WebhookField) : null;
}

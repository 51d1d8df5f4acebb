// Names for the generated OpenAPI types (src/api/schema.d.ts, from
// `npm run gen:api`). Pages import from here, never from the schema directly,
// so a renamed schema is fixed in one place.
import type { components } from './schema';

type Schemas = components['schemas'];

export type Job = Schemas['Job'];
export type JobStatus = Schemas['JobStatus'];
export type JobSpec = Schemas['JobSpec'];
export type JobPage = Schemas['JobPage'];
export type JobDetail = Schemas['JobDetail'];
export type Attempt = Schemas['Attempt'];
export type AttemptOutcome = Schemas['AttemptOutcome'];
export type StatusEvent = Schemas['StatusEvent'];
export type Stats = Schemas['Stats'];
export type MinuteCount = Schemas['MinuteCount'];
export type QueueList = Schemas['QueueList'];
export type QueueState = Schemas['QueueState'];
export type WorkerList = Schemas['WorkerList'];
export type WorkerInfo = Schemas['WorkerInfo'];
export type RunningJob = Schemas['RunningJob'];
export type ErrorBody = Schemas['ErrorBody'];

export type Definition = Schemas['Definition'];
export type DefinitionList = Schemas['DefinitionList'];
export type DefinitionSpec = Schemas['DefinitionSpec'];

export type Schedule = Schemas['Schedule'];
export type ScheduleDetail = Schemas['ScheduleDetail'];
export type ScheduleList = Schemas['ScheduleList'];
export type ScheduleSpec = Schemas['ScheduleSpec'];
export type SchedulePatch = Schemas['SchedulePatch'];
export type TargetSpec = Schemas['TargetSpec'];
export type Misfire = Schemas['Misfire'];
export type Fire = Schemas['Fire'];
export type FireTime = Schemas['FireTime'];
export type Preview = Schemas['Preview'];
export type PreviewRequest = Schemas['PreviewRequest'];

export type Workflow = Schemas['Workflow'];
export type WorkflowDetail = Schemas['WorkflowDetail'];
export type WorkflowList = Schemas['WorkflowList'];
export type WorkflowSummary = Schemas['WorkflowSummary'];
export type WorkflowSpec = Schemas['WorkflowSpec'];
export type NodeSpec = Schemas['NodeSpec'];
export type NodeView = Schemas['NodeView'];
export type EdgeSpec = Schemas['EdgeSpec'];
export type Run = Schemas['Run'];
export type RunDetail = Schemas['RunDetail'];
export type RunList = Schemas['RunList'];
export type RunNode = Schemas['RunNode'];
export type RunSummary = Schemas['RunSummary'];
/** A run's status, derived by the server from its jobs (db::run_status). */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

export const MISFIRE_POLICIES: readonly Misfire[] = ['fire_once', 'skip', 'fire_all'];

/** A queue as GET /queues lists it. `paused` is absent on servers without
 *  queue pause; the Queues page then says so instead of offering the button. */
export type QueueCounts = Omit<Schemas['QueueCounts'], 'paused'> & { paused?: boolean };

export const JOB_STATUSES: readonly JobStatus[] = [
  'blocked',
  'scheduled',
  'queued',
  'running',
  'succeeded',
  'dead',
  'cancelled',
  'skipped',
];

/** Statuses a job can be cancelled from (the server's rule). */
export const CANCELLABLE: ReadonlySet<JobStatus> = new Set(['blocked', 'scheduled', 'queued', 'running']);
/** Statuses a job can be retried from (the server's rule). */
export const RETRYABLE: ReadonlySet<JobStatus> = new Set(['dead', 'cancelled', 'skipped']);
/** Final statuses: the job will not move again unless retried by hand. */
export const FINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'dead', 'cancelled', 'skipped']);

/** Filters of GET /jobs; every field is optional, empty means "any". */
export interface JobFilter {
  status?: JobStatus | undefined;
  queue?: string | undefined;
  kind?: string | undefined;
  name?: string | undefined;
}

/** Orders of GET /jobs (`?sort=`): newest first, or highest priority first. */
export type JobSort = 'created' | 'priority';

export type BulkAction = Schemas['BulkAction'];
export type BulkRequest = Schemas['BulkRequest'];
export type BulkResult = Schemas['BulkResult'];

/** A worker's queue as GET /workers lists it: `{name, weight}`, or on an
 *  older api the string "name:weight". */
export type WorkerQueue = Schemas['QueueWeight'] | string;

/** A message from /api/v1/ws (see api/src/ws.rs). */
export type LiveMessage =
  | { type: 'subscribed'; all: boolean; queues: string[]; jobs: string[]; runs?: string[] }
  | ({ type: 'job' } & StatusEvent)
  | { type: 'resync'; missed: number }
  | { type: 'error'; message: string };

// ---------------------------------------------------------------------------
// Access control and webhooks (issue 7).

/** What a token may do: read (GET), submit (read + new jobs and runs), admin (everything). */
export type Scope = Schemas['Scope'];
export const SCOPES: readonly Scope[] = ['read', 'submit', 'admin'];

/** GET/POST /session: how this browser is signed in. `auth` is `cookie`
 *  after the sign-in page, `token` with a Bearer header, `disabled` when the
 *  api runs without access control (then `name` is absent). */
export type Session = Schemas['SessionInfo'];

/** An api token as GET /tokens lists it; the secret is never listed.
 *  `prefix` is the secret's first characters, e.g. `cvr_ab12cd`. */
export type ApiToken = Schemas['Token'];
export type TokenList = Schemas['TokenList'];
/** POST /tokens (the schema says `scope: string`; the page sends a Scope). */
export type TokenSpec = Omit<Schemas['NewToken'], 'scope'> & { scope: Scope };
/** POST /tokens: the token and its secret, shown once. */
export type CreatedToken = Schemas['CreatedToken'];

export type WebhookEvent = 'job.succeeded' | 'job.dead' | 'workflow_run.finished';
export const WEBHOOK_EVENTS: readonly WebhookEvent[] = ['job.succeeded', 'job.dead', 'workflow_run.finished'];
export const isWebhookEvent = (e: string): e is WebhookEvent => (WEBHOOK_EVENTS as readonly string[]).includes(e);

export type DeliveryStatus = Schemas['DeliveryStatus'];
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'succeeded', 'failed'];

/** A webhook (never with its secret), with its newest delivery. `events` is
 *  WebhookEvent names; `queues`/`workflow_ids` empty mean every one. */
export type Webhook = Schemas['Webhook'];
export type LastDelivery = Schemas['LastDelivery'];
export type WebhookList = Schemas['WebhookList'];
export type WebhookSpec = Schemas['WebhookSpec'];
export type WebhookPatch = Schemas['WebhookPatch'];
/** POST /webhooks: the webhook and its signing secret, shown once. */
export type CreatedWebhook = Schemas['CreatedWebhook'];
/** POST /webhooks/{id}/rotate-secret. */
export type RotatedSecret = Schemas['RotatedSecret'];

/** One delivery: `event` is a WebhookEvent or `ping` (the test delivery). */
export type Delivery = Schemas['Delivery'];
export type DeliveryPage = Schemas['DeliveryPage'];

// One function per api operation, typed with the generated schema.
import { del, get, patch, post, put, queryString, type RequestOptions } from './client';
import type {
  BulkRequest,
  CreatedToken,
  CreatedWebhook,
  Delivery,
  DeliveryPage,
  DeliveryStatus,
  RotatedSecret,
  Session,
  TokenList,
  TokenSpec,
  Webhook,
  WebhookList,
  WebhookPatch,
  WebhookSpec,
  BulkResult,
  Definition,
  DefinitionList,
  DefinitionSpec,
  Job,
  JobDetail,
  JobFilter,
  JobPage,
  JobSort,
  JobSpec,
  Preview,
  PreviewRequest,
  QueueList,
  QueueState,
  RunDetail,
  RunList,
  ScheduleDetail,
  ScheduleList,
  SchedulePatch,
  ScheduleSpec,
  Stats,
  WorkerList,
  WorkflowDetail,
  WorkflowList,
  WorkflowSpec,
} from './types';

export interface DeliveryParams {
  status?: DeliveryStatus | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface ListParams extends JobFilter {
  /** Absent means the server's default, newest first. */
  sort?: JobSort | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

const at = (id: string) => encodeURIComponent(id);

export const api = {
  listJobs: (params: ListParams, options?: RequestOptions) =>
    get<JobPage>(
      `/jobs${queryString({
        status: params.status,
        queue: params.queue,
        kind: params.kind,
        name: params.name,
        sort: params.sort === 'priority' ? 'priority' : undefined,
        limit: params.limit,
        cursor: params.cursor,
      })}`,
      options,
    ),
  getJob: (id: string, options?: RequestOptions) => get<JobDetail>(`/jobs/${at(id)}`, options),
  submitJob: (spec: JobSpec) => post<Job>('/jobs', spec),
  cancelJob: (id: string) => post<Job>(`/jobs/${at(id)}/cancel`),
  retryJob: (id: string) => post<Job>(`/jobs/${at(id)}/retry`),
  deleteJob: (id: string) => del(`/jobs/${at(id)}`),
  bulkJobs: (request: BulkRequest, options?: RequestOptions) => post<BulkResult>('/jobs/bulk', request, options),
  queues: (options?: RequestOptions) => get<QueueList>('/queues', options),
  pauseQueue: (name: string) => post<QueueState>(`/queues/${at(name)}/pause`),
  resumeQueue: (name: string) => post<QueueState>(`/queues/${at(name)}/resume`),
  stats: (options?: RequestOptions) => get<Stats>('/stats', options),
  workers: (options?: RequestOptions) => get<WorkerList>('/workers', options),

  definitions: (options?: RequestOptions) => get<DefinitionList>('/definitions', options),
  getDefinition: (name: string, options?: RequestOptions) => get<Definition>(`/definitions/${at(name)}`, options),
  createDefinition: (spec: DefinitionSpec) => post<Definition>('/definitions', spec),
  replaceDefinition: (name: string, spec: DefinitionSpec) => put<Definition>(`/definitions/${at(name)}`, spec),
  deleteDefinition: (name: string) => del(`/definitions/${at(name)}`),

  schedules: (options?: RequestOptions) => get<ScheduleList>('/schedules', options),
  getSchedule: (id: string, options?: RequestOptions) => get<ScheduleDetail>(`/schedules/${at(id)}`, options),
  createSchedule: (spec: ScheduleSpec) => post<ScheduleDetail>('/schedules', spec),
  updateSchedule: (id: string, change: SchedulePatch) => patch<ScheduleDetail>(`/schedules/${at(id)}`, change),
  deleteSchedule: (id: string) => del(`/schedules/${at(id)}`),
  pauseSchedule: (id: string) => post<ScheduleDetail>(`/schedules/${at(id)}/pause`),
  resumeSchedule: (id: string) => post<ScheduleDetail>(`/schedules/${at(id)}/resume`),
  previewSchedule: (request: PreviewRequest, options?: RequestOptions) => post<Preview>('/schedules/preview', request, options),

  workflows: (options?: RequestOptions) => get<WorkflowList>('/workflows', options),
  getWorkflow: (id: string, options?: RequestOptions) => get<WorkflowDetail>(`/workflows/${at(id)}`, options),
  createWorkflow: (spec: WorkflowSpec) => post<WorkflowDetail>('/workflows', spec),
  deleteWorkflow: (id: string) => del(`/workflows/${at(id)}`),
  workflowRuns: (id: string, options?: RequestOptions) => get<RunList>(`/workflows/${at(id)}/runs`, options),
  startRun: (id: string) => post<RunDetail>(`/workflows/${at(id)}/runs`),
  getRun: (id: string, options?: RequestOptions) => get<RunDetail>(`/workflow-runs/${at(id)}`, options),
  retryRun: (id: string) => post<RunDetail>(`/workflow-runs/${at(id)}/retry`),
  cancelRun: (id: string) => post<RunDetail>(`/workflow-runs/${at(id)}/cancel`),

  session: (options?: RequestOptions) => get<Session>('/session', options),
  signIn: (token: string) => post<Session>('/session', { token }),
  signOut: () => del('/session'),

  tokens: (options?: RequestOptions) => get<TokenList>('/tokens', options),
  createToken: (spec: TokenSpec) => post<CreatedToken>('/tokens', spec),
  revokeToken: (id: string) => del(`/tokens/${at(id)}`),

  webhooks: (options?: RequestOptions) => get<WebhookList>('/webhooks', options),
  getWebhook: (id: string, options?: RequestOptions) => get<Webhook>(`/webhooks/${at(id)}`, options),
  createWebhook: (spec: WebhookSpec) => post<CreatedWebhook>('/webhooks', spec),
  updateWebhook: (id: string, change: WebhookPatch) => patch<Webhook>(`/webhooks/${at(id)}`, change),
  deleteWebhook: (id: string) => del(`/webhooks/${at(id)}`),
  rotateWebhookSecret: (id: string) => post<RotatedSecret>(`/webhooks/${at(id)}/rotate-secret`),
  testWebhook: (id: string) => post<Delivery>(`/webhooks/${at(id)}/test`),
  deliveries: (id: string, params: DeliveryParams, options?: RequestOptions) =>
    get<DeliveryPage>(`/webhooks/${at(id)}/deliveries${queryString({ status: params.status, limit: params.limit, cursor: params.cursor })}`, options),
  redeliver: (deliveryId: string) => post<Delivery>(`/webhook-deliveries/${at(deliveryId)}/redeliver`),
};


import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Ban, ChevronLeft, Copy, RotateCcw, Trash2 } from 'lucide-react';
import { useState, type ReactNode } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError } from '../../api/client';
import { api } from '../../api/endpoints';
import { keys, useJob } from '../../api/queries';
import { CANCELLABLE, FINAL, RETRYABLE, type Job } from '../../api/types';
import { CodeBlock } from '../../components/CodeBlock';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { StatusBadge } from '../../components/StatusBadge';
import { Button, Card, EmptyState, LoadError, Skeleton } from '../../components/ui';
import { useToast } from '../../components/toast';
import { useJobLiveLog } from '../../live/LiveProvider';
import { durationBetween, formatDuration, formatFullTime, formatRelative, formatTime, shortId } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { Attempts } from './Attempts';
import { Timeline } from './Timeline';
import { buildTimeline } from './timeline';

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="flex items-baseline justify-between gap-4 py-2">
      <dt className="text-sm text-slate-500">{label}</dt>
      <dd className="min-w-0 truncate text-right text-sm text-slate-800">{children}</dd>
    </div>
  );
}

function useJobAction(job: Job | undefined, action: 'cancel' | 'retry') {
  const client = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: () => (action === 'cancel' ? api.cancelJob(job!.id) : api.retryJob(job!.id)),
    onSuccess: (updated) => {
      toast('success', action === 'cancel' ? 'Job cancelled' : 'Job queued again');
      client.setQueryData(keys.job(updated.id), (old: object | undefined) => (old ? { ...old, ...updated } : old));
      void client.invalidateQueries({ queryKey: keys.job(updated.id) });
      void client.invalidateQueries({ queryKey: keys.jobLists() });
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });
}

function useDeleteJob(job: Job | undefined, onDone: () => void) {
  const client = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: () => api.deleteJob(job!.id),
    onSuccess: () => {
      toast('success', `Job ${job?.name ?? ''} deleted`);
      client.removeQueries({ queryKey: keys.job(job!.id) });
      void client.invalidateQueries({ queryKey: keys.jobLists() });
      onDone();
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });
}

function DetailSkeleton() {
  return (
    <div className="space-y-6" aria-busy="true">
      <Skeleton className="h-8 w-72" />
      <div className="grid gap-6 lg:grid-cols-3">
        <div className="space-y-6 lg:col-span-2">
          <Skeleton className="h-40 w-full" />
          <Skeleton className="h-56 w-full" />
        </div>
        <Skeleton className="h-96 w-full" />
      </div>
    </div>
  );
}

export function JobDetailPage() {
  const { id = '' } = useParams();
  const query = useJob(id);
  const live = useJobLiveLog(id);
  const now = useNow(1000);
  const navigate = useNavigate();
  const cancel = useJobAction(query.data, 'cancel');
  const retry = useJobAction(query.data, 'retry');
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const remove = useDeleteJob(query.data, () => navigate('/jobs', { replace: true }));

  const back = (
    <Link to="/jobs" className="mb-4 inline-flex items-center gap-1 text-sm font-medium text-slate-500 hover:text-slate-800">
      <ChevronLeft className="size-4" aria-hidden /> Jobs
    </Link>
  );

  if (query.isPending) return <>{back}<DetailSkeleton /></>;
  if (query.isError) {
    const notFound = query.error instanceof ApiError && (query.error.status === 404 || query.error.status === 422);
    return (
      <>
        {back}
        <Card>
          {notFound ? (
            <EmptyState title="No such job">
              <span className="font-mono text-xs">{id}</span> {query.error.message}
            </EmptyState>
          ) : (
            <LoadError error={query.error} feature="Job details" onRetry={() => void query.refetch()} />
          )}
        </Card>
      </>
    );
  }

  const job = query.data;
  const timeline = buildTimeline(job, live);
  const running = job.status === 'running';
  const duration = job.started_at
    ? job.finished_at
      ? durationBetween(job.started_at, job.finished_at)
      : running
        ? formatDuration(now - Date.parse(job.started_at))
        : '—'
    : '—';

  return (
    <>
      {back}
      <div className="mb-6 flex flex-wrap items-start justify-between gap-4">
        <div className="min-w-0">
          <div className="flex items-center gap-3">
            <h1 className="truncate text-xl font-semibold tracking-tight text-slate-900" data-testid="job-name">
              {job.name}
            </h1>
            <StatusBadge status={job.status} testId="job-status" />
          </div>
          <p className="mt-1 flex items-center gap-2 font-mono text-xs text-slate-500">
            {job.id}
            <button type="button" aria-label="Copy id" onClick={() => void navigator.clipboard?.writeText(job.id)} className="text-slate-400 hover:text-slate-700">
              <Copy className="size-3.5" />
            </button>
          </p>
        </div>
        <div className="flex items-center gap-2">
          <Button need="submit" onClick={() => navigate('/jobs/new', { state: { from: job } })}>
            <Copy className="size-3.5" aria-hidden /> Clone
          </Button>
          {RETRYABLE.has(job.status) && (
            <Button variant="primary" need="admin" busy={retry.isPending} onClick={() => retry.mutate()} data-testid="retry-job">
              <RotateCcw className="size-3.5" aria-hidden /> Retry
            </Button>
          )}
          {CANCELLABLE.has(job.status) && (
            <Button variant="danger" need="admin" busy={cancel.isPending} onClick={() => setConfirmCancel(true)} data-testid="cancel-job">
              <Ban className="size-3.5" aria-hidden /> Cancel
            </Button>
          )}
          {FINAL.has(job.status) && (
            <Button variant="danger" need="admin" busy={remove.isPending} onClick={() => setConfirmDelete(true)} data-testid="delete-job" aria-label="Delete job">
              <Trash2 className="size-3.5" aria-hidden />
            </Button>
          )}
        </div>
      </div>

      {job.last_error &&
        (job.status === 'succeeded' ? (
          // Kept from an earlier failed attempt: worth knowing, not alarming.
          <div className="mb-6 rounded-xl border border-slate-200 bg-white px-5 py-3" data-testid="job-error">
            <p className="text-xs font-medium text-slate-500">Error of an earlier attempt</p>
            <p className="mt-0.5 font-mono text-sm break-all text-slate-700">{job.last_error}</p>
          </div>
        ) : (
          <div className="mb-6 rounded-xl border border-rose-200 bg-rose-50 px-5 py-4" data-testid="job-error">
            <p className="text-sm font-semibold text-rose-800">{job.status === 'scheduled' ? 'Last attempt failed; retrying' : 'Last error'}</p>
            <p className="mt-1 font-mono text-sm break-all text-rose-700">{job.last_error}</p>
          </div>
        ))}

      <div className="grid gap-6 lg:grid-cols-3">
        <div className="min-w-0 space-y-6 lg:col-span-2">
          <div className="grid gap-6 md:grid-cols-2">
            <Card title="Payload">
              <CodeBlock value={job.payload} testId="job-payload" maxHeight="max-h-72" />
            </Card>
            <Card title="Result">
              <CodeBlock
                value={job.result ?? null}
                testId="job-result"
                maxHeight="max-h-72"
                empty={job.status === 'succeeded' ? 'no result' : 'no result yet'}
              />
            </Card>
          </div>
          <Card title={`Attempts (${job.attempts.length})`} bodyClassName="">
            {job.attempts.length ? (
              <Attempts attempts={job.attempts} />
            ) : (
              <EmptyState title="Not started yet">
                {job.status === 'scheduled' ? `Due ${formatRelative(job.run_at, now)} (${formatTime(job.run_at)}).` : 'Waiting for a worker to claim it.'}
              </EmptyState>
            )}
          </Card>
        </div>
        <div className="space-y-6">
          <Card title="Details" bodyClassName="px-5 py-2">
            <dl className="divide-y divide-slate-100">
              <Field label="Queue">
                <Link to={`/jobs?queue=${encodeURIComponent(job.queue)}`} className="font-mono text-xs text-indigo-600 hover:underline">
                  {job.queue}
                </Link>
              </Field>
              <Field label="Kind"><span className="font-mono text-xs">{job.kind}</span></Field>
              <Field label="Priority">{job.priority}</Field>
              <Field label="Attempts">
                <span data-testid="job-attempts">
                  {job.attempt - job.attempt_base} of {job.max_attempts}
                </span>
                {job.attempt_base > 0 && <span className="text-slate-400"> ({job.attempt} in all)</span>}
              </Field>
              <Field label="Backoff">
                {formatDuration(job.backoff.base_ms)} – {formatDuration(job.backoff.max_ms)}
              </Field>
              <Field label="Timeout">{job.timeout_secs ? formatDuration(job.timeout_secs * 1000) : 'none'}</Field>
              <Field label={job.status === 'scheduled' ? 'Due' : 'Ran at'}>
                <span title={formatFullTime(job.run_at)}>{formatTime(job.run_at, now)}</span>
              </Field>
              <Field label="Created"><span title={formatFullTime(job.created_at)}>{formatTime(job.created_at, now)}</span></Field>
              <Field label="Started"><span title={formatFullTime(job.started_at)}>{formatTime(job.started_at, now)}</span></Field>
              <Field label="Finished"><span title={formatFullTime(job.finished_at)}>{formatTime(job.finished_at, now)}</span></Field>
              <Field label="Duration">{duration}</Field>
              {job.workflow_run_id && (
                <Field label="Workflow run">
                  <Link to={`/workflow-runs/${job.workflow_run_id}`} className="font-mono text-xs text-indigo-600 hover:underline" title={job.workflow_run_id}>
                    {shortId(job.workflow_run_id)}
                  </Link>
                  {job.node_key && <span className="ml-1 font-mono text-xs text-slate-500">· node {job.node_key}</span>}
                </Field>
              )}
              {job.schedule_id && (
                <Field label="Schedule">
                  <Link to={`/schedules/${job.schedule_id}`} className="text-xs text-indigo-600 hover:underline" title={job.fire_time ? `fire of ${formatFullTime(job.fire_time)}` : undefined}>
                    fire of {formatTime(job.fire_time, now)}
                  </Link>
                </Field>
              )}
              {job.lease_owner && <Field label="Worker"><span className="font-mono text-xs">{job.lease_owner}</span></Field>}
              {job.idempotency_key && <Field label="Idempotency key"><span className="font-mono text-xs">{job.idempotency_key}</span></Field>}
            </dl>
          </Card>
          <Card title="Timeline">
            <Timeline entries={timeline} />
          </Card>
        </div>
      </div>

      <Dialog
        open={confirmCancel}
        onClose={() => setConfirmCancel(false)}
        title="Cancel this job?"
        footer={
          <>
            <Button onClick={() => setConfirmCancel(false)}>Keep it</Button>
            <Button
              variant="danger"
              data-testid="confirm-cancel"
              onClick={() => {
                setConfirmCancel(false);
                cancel.mutate();
              }}
            >
              Cancel job
            </Button>
          </>
        }
      >
        {running
          ? 'The job is running: its worker stops it (a shell job’s process group is killed). You can retry it later.'
          : 'The job will not start. You can retry it later.'}
      </Dialog>
      <ConfirmDialog open={confirmDelete} title="Delete this job?" confirmLabel="Delete job" onClose={() => setConfirmDelete(false)} onConfirm={() => remove.mutate()}>
        The job is deleted with its attempts and their output. This cannot be undone.
      </ConfirmDialog>
    </>
  );
}

import clsx from 'clsx';
import type { AttemptOutcome, JobStatus, RunStatus } from '../api/types';
import { OUTCOME_TONE, STATUS_TONE } from './status';

export function StatusBadge({ status, testId }: { status: JobStatus; testId?: string }) {
  const tone = STATUS_TONE[status] ?? STATUS_TONE.blocked;
  return (
    <span
      data-testid={testId}
      data-status={status}
      className={clsx(
        'inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset whitespace-nowrap',
        tone.badge,
      )}
    >
      <span className={clsx('size-1.5 rounded-full', tone.dot, status === 'running' && 'animate-pulse')} />
      {status}
    </span>
  );
}

export function OutcomeBadge({ outcome }: { outcome: AttemptOutcome }) {
  const tone = OUTCOME_TONE[outcome] ?? OUTCOME_TONE.interrupted;
  return (
    <span
      data-outcome={outcome}
      className={clsx(
        'inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset whitespace-nowrap',
        tone.badge,
      )}
    >
      <span className={clsx('size-1.5 rounded-full', tone.dot, outcome === 'running' && 'animate-pulse')} />
      {outcome.replace('_', ' ')}
    </span>
  );
}

const RUN_TONE: Record<RunStatus, JobStatus> = { running: 'running', succeeded: 'succeeded', failed: 'dead', cancelled: 'cancelled' };

/** A workflow run's status (running, succeeded, failed, cancelled), in the job colours. */
export function RunStatusBadge({ status, testId }: { status: string; testId?: string }) {
  const tone = STATUS_TONE[RUN_TONE[status as RunStatus] ?? 'blocked'];
  return (
    <span
      data-testid={testId}
      data-status={status}
      className={clsx('inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset whitespace-nowrap', tone.badge)}
    >
      <span className={clsx('size-1.5 rounded-full', tone.dot, status === 'running' && 'animate-pulse')} />
      {status}
    </span>
  );
}

/** A status that is a job's or a run's (a schedule's fires hold either). */
export function AnyStatusBadge({ status, testId }: { status: string; testId?: string }) {
  return status in STATUS_TONE ? (
    <StatusBadge status={status as JobStatus} {...(testId ? { testId } : {})} />
  ) : (
    <RunStatusBadge status={status} {...(testId ? { testId } : {})} />
  );
}

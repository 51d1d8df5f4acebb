import clsx from 'clsx';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import type { Job } from '../api/types';
import { formatFullTime, formatRelative, formatTime, shortId } from '../lib/format';
import { useNow } from '../lib/useNow';
import { StatusBadge } from './StatusBadge';

export interface JobsTableProps {
  jobs: readonly Job[];
  selected: ReadonlySet<string>;
  onToggle: (id: string) => void;
  onToggleAll: (select: boolean) => void;
  /** Dead letters show the last error instead of the finished time. */
  variant?: 'jobs' | 'dead';
  rowActions?: (job: Job) => ReactNode;
  /** Rows fade while a newer page loads. */
  dimmed?: boolean;
}

const th = 'px-3 py-2.5 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500 whitespace-nowrap';
const td = 'px-3 py-2.5 align-middle';

export function JobsTable({ jobs, selected, onToggle, onToggleAll, variant = 'jobs', rowActions, dimmed }: JobsTableProps) {
  const now = useNow(5_000);
  const allSelected = jobs.length > 0 && jobs.every((j) => selected.has(j.id));
  const someSelected = !allSelected && jobs.some((j) => selected.has(j.id));
  return (
    <div className="overflow-x-auto">
      <table className={clsx('min-w-full text-sm transition-opacity', dimmed && 'opacity-60')} data-testid="jobs-table">
        <thead className="border-b border-slate-200 bg-slate-50/80">
          <tr>
            <th className={clsx(th, 'w-10 pl-5')}>
              <input
                type="checkbox"
                aria-label="Select all on this page"
                className="size-4 rounded border-slate-300 accent-indigo-600"
                checked={allSelected}
                ref={(el) => {
                  if (el) el.indeterminate = someSelected;
                }}
                onChange={(e) => onToggleAll(e.target.checked)}
              />
            </th>
            <th className={th}>Status</th>
            <th className={th}>Job</th>
            <th className={th}>Queue</th>
            <th className={th}>Kind</th>
            <th className={clsx(th, 'text-right')}>Priority</th>
            <th className={clsx(th, 'text-right')}>Attempts</th>
            <th className={th}>Created</th>
            {variant === 'dead' ? <th className={th}>Last error</th> : <th className={th}>Finished</th>}
            {rowActions && <th className={clsx(th, 'pr-5 text-right')}><span className="sr-only">Actions</span></th>}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {jobs.map((job) => {
            const isSelected = selected.has(job.id);
            return (
              <tr key={job.id} data-job-id={job.id} className={clsx('group', isSelected ? 'bg-indigo-50/60' : 'hover:bg-slate-50')}>
                <td className={clsx(td, 'pl-5')}>
                  <input
                    type="checkbox"
                    aria-label={`Select ${job.name}`}
                    className="size-4 rounded border-slate-300 accent-indigo-600"
                    checked={isSelected}
                    onChange={() => onToggle(job.id)}
                  />
                </td>
                <td className={td}>
                  <StatusBadge status={job.status} testId="row-status" />
                </td>
                <td className={clsx(td, 'max-w-[18rem]')}>
                  <Link to={`/jobs/${job.id}`} className="block truncate font-medium text-slate-900 hover:text-indigo-600">
                    {job.name}
                  </Link>
                  <span className="font-mono text-[0.7rem] text-slate-400" title={job.id}>
                    {shortId(job.id)}
                  </span>
                </td>
                <td className={td}>
                  <Link to={`/jobs?queue=${encodeURIComponent(job.queue)}`} className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-700 hover:bg-slate-200">
                    {job.queue}
                  </Link>
                </td>
                <td className={clsx(td, 'font-mono text-xs text-slate-600')}>{job.kind}</td>
                <td className={clsx(td, 'text-right tabular-nums text-slate-600')}>{job.priority}</td>
                <td className={clsx(td, 'text-right tabular-nums text-slate-600')}>
                  {job.attempt - job.attempt_base}
                  <span className="text-slate-400">/{job.max_attempts}</span>
                  {job.attempt_base > 0 && (
                    <span className="ml-1 text-[0.7rem] text-slate-400" title={`${job.attempt} attempts in all, ${job.attempt_base} before the last manual retry`}>
                      ({job.attempt})
                    </span>
                  )}
                </td>
                <td className={clsx(td, 'whitespace-nowrap text-slate-600')} title={formatFullTime(job.created_at)}>
                  {formatTime(job.created_at, now)}
                  <span className="block text-[0.7rem] text-slate-400">{formatRelative(job.created_at, now)}</span>
                </td>
                {variant === 'dead' ? (
                  <td className={clsx(td, 'max-w-[22rem]')}>
                    <p className="truncate font-mono text-xs text-rose-700" title={job.last_error ?? ''} data-testid="row-error">
                      {job.last_error ?? '—'}
                    </p>
                    <span className="text-[0.7rem] text-slate-400">died {formatRelative(job.finished_at, now)}</span>
                  </td>
                ) : (
                  <td className={clsx(td, 'whitespace-nowrap text-slate-600')} title={formatFullTime(job.finished_at)}>
                    {job.finished_at ? (
                      formatTime(job.finished_at, now)
                    ) : job.status === 'scheduled' ? (
                      <span className="text-violet-600">runs {formatRelative(job.run_at, now)}</span>
                    ) : (
                      <span className="text-slate-400">—</span>
                    )}
                  </td>
                )}
                {rowActions && <td className={clsx(td, 'pr-5 text-right whitespace-nowrap')}>{rowActions(job)}</td>}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

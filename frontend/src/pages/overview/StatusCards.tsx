import clsx from 'clsx';
import { Link } from 'react-router';
import type { JobStatus, Stats } from '../../api/types';
import { STATUS_TONE } from '../../components/status';
import { Skeleton } from '../../components/ui';
import { formatCount } from '../../lib/format';

const SHOWN: { status: JobStatus; label: string }[] = [
  { status: 'queued', label: 'Queued' },
  { status: 'scheduled', label: 'Scheduled' },
  { status: 'running', label: 'Running' },
  { status: 'succeeded', label: 'Succeeded' },
  { status: 'dead', label: 'Dead' },
  { status: 'cancelled', label: 'Cancelled' },
];

export function StatusCards({ stats }: { stats: Stats | undefined }) {
  const other = stats ? (stats.counts['blocked'] ?? 0) + (stats.counts['skipped'] ?? 0) : 0;
  return (
    <div className="grid grid-cols-2 gap-4 sm:grid-cols-3 xl:grid-cols-6" data-testid="status-cards">
      {SHOWN.map(({ status, label }) => (
        <Link
          key={status}
          to={`/jobs?status=${status}`}
          data-testid={`count-${status}`}
          className="group relative overflow-hidden rounded-xl border border-slate-200 bg-white px-4 py-3.5 shadow-sm transition-shadow hover:shadow-md"
        >
          <span className={clsx('absolute inset-y-0 left-0 w-1', STATUS_TONE[status].dot)} aria-hidden />
          <p className="text-xs font-medium text-slate-500">{label}</p>
          {stats ? (
            <p className="mt-1 text-2xl font-semibold tracking-tight text-slate-900 tabular-nums" data-value={stats.counts[status] ?? 0}>
              {formatCount(stats.counts[status] ?? 0)}
            </p>
          ) : (
            <Skeleton className="mt-2 h-7 w-16" />
          )}
        </Link>
      ))}
      {stats && other > 0 && (
        <p className="col-span-full -mt-1 text-xs text-slate-500">
          Also {formatCount(stats.counts['blocked'] ?? 0)} blocked and {formatCount(stats.counts['skipped'] ?? 0)} skipped (workflows).
        </p>
      )}
    </div>
  );
}

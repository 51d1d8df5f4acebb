import clsx from 'clsx';
import { STATUS_TONE } from '../../components/status';
import { formatFullTime, formatTime } from '../../lib/format';
import type { TimelineEntry } from './timeline';

export function Timeline({ entries }: { entries: readonly TimelineEntry[] }) {
  return (
    <ol className="relative" data-testid="timeline">
      {entries.map((entry, i) => (
        <li key={`${entry.at}-${i}`} className="relative flex gap-3 pb-5 last:pb-0">
          {i < entries.length - 1 && <span className="absolute top-4 left-[0.3rem] h-full w-px bg-slate-200" aria-hidden />}
          <span className={clsx('relative mt-1.5 size-2.5 shrink-0 rounded-full ring-4 ring-white', STATUS_TONE[entry.status].dot)} />
          <div className="min-w-0 flex-1">
            <p className="flex items-center gap-2 text-sm font-medium text-slate-800">
              {entry.title}
              {entry.live && <span className="rounded bg-emerald-50 px-1 py-px text-[0.65rem] font-semibold text-emerald-700 uppercase">live</span>}
            </p>
            <p className="text-xs text-slate-500" title={formatFullTime(entry.at)}>
              {formatTime(entry.at)}
            </p>
            {entry.detail && <p className="mt-0.5 truncate font-mono text-xs text-slate-500" title={entry.detail}>{entry.detail}</p>}
          </div>
        </li>
      ))}
    </ol>
  );
}

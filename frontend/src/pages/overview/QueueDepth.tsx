import { Link } from 'react-router';
import type { QueueCounts } from '../../api/types';
import { STATUS_TONE } from '../../components/status';
import { formatCount } from '../../lib/format';

const PARTS = ['queued', 'scheduled', 'running', 'dead'] as const;

/** One row per queue: a bar split by state, scaled to the deepest queue. */
export function QueueDepth({ queues }: { queues: readonly QueueCounts[] }) {
  const total = (q: QueueCounts) => q.queued + q.scheduled + q.running + q.dead;
  const deepest = Math.max(1, ...queues.map(total));
  const sorted = [...queues].sort((a, b) => total(b) - total(a) || a.queue.localeCompare(b.queue));
  return (
    <div className="space-y-3" data-testid="queue-depth">
      {sorted.slice(0, 12).map((q) => (
        <div key={q.queue} className="grid grid-cols-[8rem_1fr_4rem] items-center gap-3">
          <Link to={`/jobs?queue=${encodeURIComponent(q.queue)}`} className="truncate font-mono text-xs text-slate-700 hover:text-indigo-600" title={q.queue}>
            {q.queue}
            {q.paused && <span className="ml-1 rounded bg-amber-100 px-1 text-[0.65rem] text-amber-800">paused</span>}
          </Link>
          <div className="flex h-2.5 overflow-hidden rounded-full bg-slate-100" title={PARTS.map((p) => `${p} ${q[p]}`).join(' · ')}>
            {PARTS.map((p) =>
              q[p] ? <div key={p} style={{ width: `${(q[p] / deepest) * 100}%`, backgroundColor: STATUS_TONE[p].hex }} /> : null,
            )}
          </div>
          <span className="text-right text-xs font-medium text-slate-600 tabular-nums">{formatCount(total(q))}</span>
        </div>
      ))}
      <div className="flex flex-wrap gap-x-4 gap-y-1 pt-1 text-xs text-slate-500">
        {PARTS.map((p) => (
          <span key={p} className="inline-flex items-center gap-1.5">
            <span className="size-2 rounded-full" style={{ backgroundColor: STATUS_TONE[p].hex }} /> {p}
          </span>
        ))}
      </div>
    </div>
  );
}

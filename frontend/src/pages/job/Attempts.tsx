import clsx from 'clsx';
import { ChevronDown, ChevronRight } from 'lucide-react';
import { useState } from 'react';
import type { Attempt } from '../../api/types';
import { CodeBlock } from '../../components/CodeBlock';
import { OutcomeBadge } from '../../components/StatusBadge';
import { durationBetween, formatFullTime, formatTime } from '../../lib/format';
import { useNow } from '../../lib/useNow';

/** Every attempt, newest first; each expands to its captured output. */
export function Attempts({ attempts }: { attempts: readonly Attempt[] }) {
  const sorted = [...attempts].sort((a, b) => b.attempt - a.attempt);
  const latest = sorted[0]?.attempt;
  // The latest attempt is open unless the user closed it; others closed
  // unless opened.
  const [toggled, setToggled] = useState<ReadonlyMap<number, boolean>>(new Map());
  const now = useNow(1000);
  const isOpenFor = (n: number) => toggled.get(n) ?? n === latest;
  const toggle = (n: number) => setToggled((m) => new Map(m).set(n, !isOpenFor(n)));
  return (
    <ul className="divide-y divide-slate-100" data-testid="attempts">
      {sorted.map((a) => {
        const isOpen = isOpenFor(a.attempt);
        const running = a.outcome === 'running';
        return (
          <li key={a.attempt} data-testid="attempt" data-attempt={a.attempt} data-outcome={a.outcome}>
            <button type="button" onClick={() => toggle(a.attempt)} className="flex w-full items-center gap-3 px-5 py-3 text-left hover:bg-slate-50">
              {isOpen ? <ChevronDown className="size-4 text-slate-400" /> : <ChevronRight className="size-4 text-slate-400" />}
              <span className="w-20 text-sm font-medium text-slate-800">Attempt {a.attempt}</span>
              <OutcomeBadge outcome={a.outcome} />
              <span className="min-w-0 flex-1 truncate font-mono text-xs text-slate-500" title={a.worker_id}>
                {a.worker_id}
              </span>
              <span className="text-xs text-slate-500 tabular-nums" title={formatFullTime(a.started_at)}>
                {formatTime(a.started_at)}
              </span>
              <span className="w-20 text-right text-xs font-medium text-slate-700 tabular-nums">
                {running ? durationBetween(a.started_at, new Date(now).toISOString()) : durationBetween(a.started_at, a.finished_at)}
              </span>
            </button>
            {isOpen && (
              <div className="space-y-3 px-5 pb-4 pl-12">
                {a.error && (
                  <p className={clsx('rounded-md bg-rose-50 px-3 py-2 font-mono text-xs text-rose-800 ring-1 ring-inset ring-rose-200')} data-testid="attempt-error">
                    {a.error}
                  </p>
                )}
                <div>
                  <p className="mb-1.5 text-xs font-medium text-slate-500">Output</p>
                  <CodeBlock value={a.output ?? ''} dark testId="attempt-output" maxHeight="max-h-80" empty={running ? 'running… output appears when the attempt ends' : 'no output captured'} />
                </div>
              </div>
            )}
          </li>
        );
      })}
    </ul>
  );
}

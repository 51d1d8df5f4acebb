import { useMutation, useQueryClient } from '@tanstack/react-query';
import clsx from 'clsx';
import { Layers, Pause, Play } from 'lucide-react';
import { useState } from 'react';
import { Link } from 'react-router';
import { isUnavailable } from '../../api/client';
import { api } from '../../api/endpoints';
import { keys, useQueues, useWorkers } from '../../api/queries';
import type { QueueCounts } from '../../api/types';
import { Button, Card, EmptyState, LoadError, PageHeader, TableSkeleton, Unavailable } from '../../components/ui';
import { useToast } from '../../components/toast';
import { formatCount } from '../../lib/format';
import { parseWorkerQueue } from '../../lib/known';

const th = 'px-4 py-2.5 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500';
const COLUMNS = ['queued', 'scheduled', 'running', 'dead'] as const;
const COLUMN_TONE: Record<(typeof COLUMNS)[number], string> = {
  queued: 'text-sky-700',
  scheduled: 'text-violet-700',
  running: 'text-blue-700',
  dead: 'text-rose-700',
};

export function QueuesPage() {
  const queues = useQueues();
  const workers = useWorkers();
  const client = useQueryClient();
  const toast = useToast();
  const [missing, setMissing] = useState(false);

  const toggle = useMutation({
    mutationFn: ({ queue, pause }: { queue: string; pause: boolean }) => (pause ? api.pauseQueue(queue) : api.resumeQueue(queue)),
    onSuccess: (state) => {
      client.setQueryData(keys.queues(), (old: { queues: QueueCounts[] } | undefined) =>
        old ? { queues: old.queues.map((q) => (q.queue === state.queue ? { ...q, paused: state.paused } : q)) } : old,
      );
      void client.invalidateQueries({ queryKey: keys.queues() });
      toast('success', `Queue ${state.queue} ${state.paused ? 'paused: no new jobs start' : 'resumed'}`);
    },
    onError: (e) => {
      if (isUnavailable(e)) setMissing(true);
      else toast('error', e instanceof Error ? e.message : String(e));
    },
  });

  // Queues that workers serve but that hold no jobs are listed too, empty.
  const rows: QueueCounts[] = [...(queues.data?.queues ?? [])];
  for (const w of workers.data?.workers ?? []) {
    for (const name of w.queues.map((q) => parseWorkerQueue(q).name)) {
      if (!rows.some((q) => q.queue === name)) rows.push({ queue: name, queued: 0, scheduled: 0, running: 0, dead: 0, ...(queues.data?.queues.every((q) => 'paused' in q) ? { paused: false } : {}) });
    }
  }
  rows.sort((a, b) => a.queue.localeCompare(b.queue));
  const servedBy = (name: string) => (workers.data?.workers ?? []).filter((w) => w.queues.some((q) => parseWorkerQueue(q).name === name)).length;
  const pauseSupported = !missing && (queues.data?.queues ?? []).every((q) => typeof q.paused === 'boolean');

  return (
    <>
      <PageHeader title="Queues" description="Depth by state. Pausing a queue stops workers from claiming its jobs; running jobs finish." />
      {!pauseSupported && queues.data && (
        <div className="mb-4">
          <Unavailable feature="Pausing queues">This api does not report or accept queue pauses yet; depths are still shown.</Unavailable>
        </div>
      )}
      <Card bodyClassName="">
        {queues.isPending ? (
          <TableSkeleton rows={4} cols={6} />
        ) : queues.isError ? (
          <div className="p-5">
            <LoadError error={queues.error} feature="Queues" onRetry={() => void queues.refetch()} />
          </div>
        ) : rows.length === 0 ? (
          <EmptyState title="No queues yet" icon={<Layers className="size-5" />}>
            A queue appears once a job is submitted to it or a worker serves it.
          </EmptyState>
        ) : (
          <table className="min-w-full text-sm" data-testid="queues-table">
            <thead className="border-b border-slate-200 bg-slate-50/80">
              <tr>
                <th className={clsx(th, 'pl-5')}>Queue</th>
                <th className={th}>State</th>
                {COLUMNS.map((c) => (
                  <th key={c} className={clsx(th, 'text-right')}>
                    {c}
                  </th>
                ))}
                <th className={clsx(th, 'text-right')}>Workers</th>
                <th className={clsx(th, 'pr-5 text-right')}>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {rows.map((q) => {
                const workersServing = servedBy(q.queue);
                const pending = toggle.isPending && toggle.variables?.queue === q.queue;
                return (
                  <tr key={q.queue} data-queue={q.queue} className="hover:bg-slate-50">
                    <td className="py-3 pr-4 pl-5">
                      <Link to={`/jobs?queue=${encodeURIComponent(q.queue)}`} className="font-mono text-sm font-medium text-slate-900 hover:text-indigo-600">
                        {q.queue}
                      </Link>
                    </td>
                    <td className="px-4 py-3">
                      {q.paused ? (
                        <span data-testid="queue-state" className="inline-flex items-center gap-1 rounded-full bg-amber-50 px-2 py-0.5 text-xs font-medium text-amber-800 ring-1 ring-amber-600/20 ring-inset">
                          <Pause className="size-3" /> paused
                        </span>
                      ) : (
                        <span data-testid="queue-state" className="inline-flex items-center gap-1 rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-medium text-emerald-700 ring-1 ring-emerald-600/20 ring-inset">
                          <span className="size-1.5 rounded-full bg-emerald-500" /> active
                        </span>
                      )}
                    </td>
                    {COLUMNS.map((c) => (
                      <td key={c} className="px-4 py-3 text-right tabular-nums">
                        {q[c] ? (
                          <Link to={`/jobs?queue=${encodeURIComponent(q.queue)}&status=${c}`} className={clsx('font-medium hover:underline', COLUMN_TONE[c])}>
                            {formatCount(q[c])}
                          </Link>
                        ) : (
                          <span className="text-slate-300">0</span>
                        )}
                      </td>
                    ))}
                    <td className={clsx('px-4 py-3 text-right tabular-nums', workersServing ? 'text-slate-700' : 'text-amber-700')} title={workersServing ? '' : 'No live worker serves this queue: its jobs wait'}>
                      {workersServing || 'none'}
                    </td>
                    <td className="py-3 pr-5 pl-4 text-right">
                      {pauseSupported &&
                        (q.paused ? (
                          <Button size="sm" need="admin" busy={pending} onClick={() => toggle.mutate({ queue: q.queue, pause: false })} data-testid="resume-queue">
                            <Play className="size-3.5" aria-hidden /> Resume
                          </Button>
                        ) : (
                          <Button size="sm" need="admin" busy={pending} onClick={() => toggle.mutate({ queue: q.queue, pause: true })} data-testid="pause-queue">
                            <Pause className="size-3.5" aria-hidden /> Pause
                          </Button>
                        ))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}

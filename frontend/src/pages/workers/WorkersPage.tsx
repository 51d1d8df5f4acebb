import clsx from 'clsx';
import { Cpu, Server } from 'lucide-react';
import { Link } from 'react-router';
import { useWorkers } from '../../api/queries';
import type { WorkerInfo } from '../../api/types';
import { Card, EmptyState, LoadError, PageHeader, Skeleton } from '../../components/ui';
import { formatDuration, formatFullTime, formatRelative } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { parseWorkerQueue } from '../../lib/known';

function Chip({ children }: { children: string }) {
  return <span className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-[0.7rem] text-slate-700">{children}</span>;
}

function WorkerCard({ worker, now }: { worker: WorkerInfo; now: number }) {
  const silentFor = now - Date.parse(worker.last_seen_at);
  const used = worker.running.length / Math.max(1, worker.concurrency);
  return (
    <Card bodyClassName="" className="overflow-hidden">
      <div className="flex items-start justify-between gap-4 px-5 pt-4 pb-3" data-testid="worker" data-worker-id={worker.id}>
        <div className="flex min-w-0 items-start gap-3">
          <div className="flex size-9 shrink-0 items-center justify-center rounded-lg bg-indigo-50 text-indigo-600">
            <Server className="size-4.5" aria-hidden />
          </div>
          <div className="min-w-0">
            <p className="truncate text-sm font-semibold text-slate-900">
              {worker.host}
              <span className="font-normal text-slate-400"> · pid {worker.pid}</span>
            </p>
            <p className="truncate font-mono text-xs text-slate-500" title={worker.id}>
              {worker.id}
            </p>
          </div>
        </div>
        <div className="text-right text-xs">
          <p className={clsx('inline-flex items-center gap-1.5 font-medium', silentFor > 15_000 ? 'text-amber-700' : 'text-emerald-700')}>
            <span className={clsx('size-1.5 rounded-full', silentFor > 15_000 ? 'bg-amber-500' : 'bg-emerald-500')} />
            <span data-testid="heartbeat" title={formatFullTime(worker.last_seen_at)}>
              heartbeat {formatRelative(worker.last_seen_at, now)}
            </span>
          </p>
          <p className="mt-0.5 text-slate-500" title={formatFullTime(worker.started_at)}>
            up {formatDuration(now - Date.parse(worker.started_at))}
          </p>
        </div>
      </div>
      <div className="grid grid-cols-3 gap-4 border-y border-slate-100 bg-slate-50/60 px-5 py-3 text-xs">
        <div>
          <p className="mb-1 text-slate-500">Queues</p>
          <div className="flex flex-wrap gap-1">
            {worker.queues.map(parseWorkerQueue).map((q) => (
              <Chip key={q.name}>{worker.queues.length > 1 ? `${q.name} ×${q.weight}` : q.name}</Chip>
            ))}
          </div>
        </div>
        <div>
          <p className="mb-1 text-slate-500">Kinds</p>
          <div className="flex flex-wrap gap-1">
            {worker.kinds.map((k) => (
              <Chip key={k}>{k}</Chip>
            ))}
          </div>
        </div>
        <div>
          <p className="mb-1 text-slate-500">
            Slots <span className="font-medium text-slate-800 tabular-nums">{worker.running.length} / {worker.concurrency}</span>
          </p>
          <div className="h-1.5 overflow-hidden rounded-full bg-slate-200">
            <div className="h-full rounded-full bg-indigo-500 transition-all" style={{ width: `${used * 100}%` }} />
          </div>
        </div>
      </div>
      {worker.running.length === 0 ? (
        <p className="px-5 py-3 text-xs text-slate-400">Idle: no job running.</p>
      ) : (
        <ul className="divide-y divide-slate-100" data-testid="running-jobs">
          {worker.running.map((job) => (
            <li key={job.id} className="flex items-center gap-3 px-5 py-2 text-xs">
              <span className="size-1.5 animate-pulse rounded-full bg-blue-500" />
              <Link to={`/jobs/${job.id}`} className="min-w-0 flex-1 truncate font-medium text-slate-800 hover:text-indigo-600">
                {job.name}
              </Link>
              <span className="font-mono text-slate-500">{job.kind}</span>
              <Chip>{job.queue}</Chip>
              <span className="text-slate-500">#{job.attempt}</span>
              <span className="w-16 text-right text-slate-600 tabular-nums">{job.started_at ? formatDuration(now - Date.parse(job.started_at)) : '—'}</span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function WorkersPage() {
  const workers = useWorkers();
  const now = useNow(1000);
  const list = workers.data?.workers ?? [];
  const slots = list.reduce((n, w) => n + w.concurrency, 0);
  const busy = list.reduce((n, w) => n + w.running.length, 0);
  return (
    <>
      <PageHeader
        title="Workers"
        description={
          workers.data ? (
            <>
              {list.length} live {list.length === 1 ? 'worker' : 'workers'} · {busy} of {slots} slots busy · refreshed every 3 s
              {workers.dataUpdatedAt ? `, last ${formatRelative(new Date(workers.dataUpdatedAt).toISOString(), now)}` : ''}
            </>
          ) : (
            'Live workers, their queues and what each is running.'
          )
        }
      />
      {workers.isPending ? (
        <div className="grid gap-4 lg:grid-cols-2">
          {[0, 1].map((i) => (
            <Skeleton key={i} className="h-48 w-full rounded-xl" />
          ))}
        </div>
      ) : workers.isError ? (
        <LoadError error={workers.error} feature="The workers list" onRetry={() => void workers.refetch()} />
      ) : list.length === 0 ? (
        <Card>
          <EmptyState title="No live workers" icon={<Cpu className="size-5" />}>
            Start one with <code className="font-mono text-xs">conveyor-worker</code> (or <code className="font-mono text-xs">scripts/run</code>). A worker that misses three heartbeats drops off this list.
          </EmptyState>
        </Card>
      ) : (
        <div className="grid gap-4 lg:grid-cols-2">
          {list.map((w) => (
            <WorkerCard key={w.id} worker={w} now={now} />
          ))}
        </div>
      )}
    </>
  );
}

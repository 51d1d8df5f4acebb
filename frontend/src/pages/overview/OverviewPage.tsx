import { Link } from 'react-router';
import { Cpu, Layers } from 'lucide-react';
import { useQueues, useStats, useWorkers } from '../../api/queries';
import { Card, EmptyState, LoadError, PageHeader, Skeleton } from '../../components/ui';
import { formatCount, percent } from '../../lib/format';
import { FailureRateChart, ThroughputChart, toPoints } from './charts';
import { QueueDepth } from './QueueDepth';
import { StatusCards } from './StatusCards';

function Metric({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div>
      <p className="text-xs text-slate-500">{label}</p>
      <p className="text-sm font-semibold text-slate-800 tabular-nums" data-testid={testId}>
        {value}
      </p>
    </div>
  );
}

export function OverviewPage() {
  const stats = useStats();
  const queues = useQueues();
  const workers = useWorkers();

  const minutes = stats.data?.finished_per_minute ?? [];
  const points = toPoints(minutes);
  const succeeded = minutes.reduce((n, m) => n + m.succeeded, 0);
  const dead = minutes.reduce((n, m) => n + m.dead, 0);
  const cancelled = minutes.reduce((n, m) => n + m.cancelled, 0);
  const peak = Math.max(0, ...minutes.map((m) => m.succeeded + m.dead + m.cancelled));
  const liveWorkers = workers.data?.workers ?? [];
  const slots = liveWorkers.reduce((n, w) => n + w.concurrency, 0);
  const busy = liveWorkers.reduce((n, w) => n + w.running.length, 0);

  return (
    <>
      <PageHeader
        title="Overview"
        description={
          stats.data ? <>{formatCount(stats.data.total)} jobs in all · updates live as jobs change state</> : 'Jobs by state, throughput and queues, updated live.'
        }
      />
      {stats.isError ? (
        <LoadError error={stats.error} feature="Statistics" onRetry={() => void stats.refetch()} />
      ) : (
        <StatusCards stats={stats.data} />
      )}

      <div className="mt-6 grid gap-6 xl:grid-cols-2">
        <Card
          title="Throughput, last hour"
          actions={<span className="text-xs text-slate-500">jobs finished per minute</span>}
        >
          <div className="mb-4 flex gap-8">
            <Metric label="Finished" value={formatCount(succeeded + dead + cancelled)} testId="hour-finished" />
            <Metric label="Succeeded" value={formatCount(succeeded)} />
            <Metric label="Peak / min" value={formatCount(peak)} />
          </div>
          {stats.isPending ? <Skeleton className="h-60 w-full" /> : <ThroughputChart points={points} />}
        </Card>
        <Card title="Failure rate, last hour" actions={<span className="text-xs text-slate-500">dead ÷ (succeeded + dead)</span>}>
          <div className="mb-4 flex gap-8">
            <Metric label="Failure rate" value={percent(dead, succeeded + dead)} testId="hour-failure-rate" />
            <Metric label="Dead" value={formatCount(dead)} />
            <Metric label="Cancelled" value={formatCount(cancelled)} />
          </div>
          {stats.isPending ? <Skeleton className="h-60 w-full" /> : <FailureRateChart points={points} />}
        </Card>
      </div>

      <div className="mt-6 grid gap-6 xl:grid-cols-3">
        <Card
          title="Queue depth"
          className="xl:col-span-2"
          actions={
            <Link to="/queues" className="text-xs font-medium text-indigo-600 hover:text-indigo-500">
              All queues →
            </Link>
          }
        >
          {queues.isPending ? (
            <div className="space-y-3">
              {[0, 1, 2].map((i) => (
                <Skeleton key={i} className="h-3 w-full" />
              ))}
            </div>
          ) : queues.isError ? (
            <LoadError error={queues.error} feature="Queues" onRetry={() => void queues.refetch()} />
          ) : queues.data.queues.length === 0 ? (
            <EmptyState title="Every queue is empty" icon={<Layers className="size-5" />}>
              Nothing is waiting, running or dead.
            </EmptyState>
          ) : (
            <QueueDepth queues={queues.data.queues} />
          )}
        </Card>
        <Card
          title="Workers"
          actions={
            <Link to="/workers" className="text-xs font-medium text-indigo-600 hover:text-indigo-500">
              Details →
            </Link>
          }
        >
          {workers.isPending ? (
            <Skeleton className="h-24 w-full" />
          ) : workers.isError ? (
            <LoadError error={workers.error} feature="The workers list" />
          ) : liveWorkers.length === 0 ? (
            <EmptyState title="No live workers" icon={<Cpu className="size-5" />}>
              Jobs wait in their queues until a worker starts.
            </EmptyState>
          ) : (
            <div className="space-y-4">
              <div className="flex gap-8">
                <Metric label="Live workers" value={formatCount(liveWorkers.length)} testId="worker-count" />
                <Metric label="Busy slots" value={`${formatCount(busy)} / ${formatCount(slots)}`} />
              </div>
              <div>
                <div className="mb-1 flex justify-between text-xs text-slate-500">
                  <span>Utilisation</span>
                  <span>{percent(busy, slots)}</span>
                </div>
                <div className="h-2 overflow-hidden rounded-full bg-slate-100">
                  <div className="h-full rounded-full bg-indigo-500 transition-all" style={{ width: `${slots ? (busy / slots) * 100 : 0}%` }} />
                </div>
              </div>
              <ul className="space-y-1.5 text-xs">
                {liveWorkers.slice(0, 5).map((w) => (
                  <li key={w.id} className="flex justify-between gap-2">
                    <span className="truncate font-mono text-slate-600">{w.host}:{w.pid}</span>
                    <span className="text-slate-500 tabular-nums">
                      {w.running.length}/{w.concurrency}
                    </span>
                  </li>
                ))}
              </ul>
            </div>
          )}
        </Card>
      </div>
    </>
  );
}

import { useState, type ReactNode } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { History, Pause, Pencil, Play, Trash2 } from 'lucide-react';
import { useSchedule } from '../../api/queries';
import { ConfirmDialog } from '../../components/Dialog';
import { CodeBlock } from '../../components/CodeBlock';
import { AnyStatusBadge } from '../../components/StatusBadge';
import { Button, Card, EmptyState, GatedLink, LoadError, PageHeader, Skeleton } from '../../components/ui';
import { wallTime } from '../../forms/ScheduleTimeFields';
import { compactSpec, describeTemplate } from '../../forms/template';
import { formatFullTime, formatRelative, shortId } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { formatInZone, offsetOf } from '../../lib/zones';
import { MISFIRE_TEXT, NextFire, PausedPill, Timing } from './parts';
import { targetOf } from './scheduleForm';
import { useScheduleActions } from './useScheduleActions';

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="grid grid-cols-3 gap-3 py-2.5">
      <dt className="text-sm text-slate-500">{label}</dt>
      <dd className="col-span-2 min-w-0 text-sm text-slate-800">{children}</dd>
    </div>
  );
}

const utc = (iso: string) => iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');

export function ScheduleDetailPage() {
  const { id = '' } = useParams();
  const schedule = useSchedule(id);
  const now = useNow(1_000);
  const navigate = useNavigate();
  const actions = useScheduleActions();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const s = schedule.data;

  if (schedule.isPending) {
    return (
      <div className="space-y-4">
        <Skeleton className="h-8 w-64" />
        <Skeleton className="h-64 w-full rounded-xl" />
      </div>
    );
  }
  if (schedule.isError || !s) return <LoadError error={schedule.error} feature="Schedules" onRetry={() => void schedule.refetch()} />;

  const target = targetOf(s.target);
  return (
    <>
      <PageHeader
        title={s.name}
        description={
          <span className="flex items-center gap-2">
            <PausedPill paused={s.paused} />
            <span>
              {target.kind === 'workflow' ? 'Starts a run of workflow ' : 'Makes a job: '}
              {target.kind === 'workflow' ? (
                <Link className="font-medium text-indigo-600" to={`/workflows/${encodeURIComponent(target.name)}`}>
                  {target.name}
                </Link>
              ) : (
                <span className="font-mono text-xs text-slate-700">{describeTemplate(target.spec)}</span>
              )}
            </span>
          </span>
        }
        actions={
          <>
            {s.paused ? (
              <Button need="admin" data-testid="resume-schedule" busy={actions.resume.isPending} onClick={() => actions.resume.mutate(s)}>
                <Play className="size-4" aria-hidden /> Resume
              </Button>
            ) : (
              <Button need="admin" data-testid="pause-schedule" busy={actions.pause.isPending} onClick={() => actions.pause.mutate(s)}>
                <Pause className="size-4" aria-hidden /> Pause
              </Button>
            )}
            <GatedLink need="admin" to={`/schedules/${s.id}/edit`} className="inline-flex items-center gap-1.5 rounded-md bg-white px-3 py-1.5 text-sm font-medium text-slate-700 shadow-sm ring-1 ring-inset ring-slate-300 hover:bg-slate-50">
              <Pencil className="size-4" aria-hidden /> Edit
            </GatedLink>
            <Button variant="danger" need="admin" onClick={() => setConfirmDelete(true)} data-testid="delete-schedule">
              <Trash2 className="size-4" aria-hidden /> Delete
            </Button>
          </>
        }
      />
      <div className="grid gap-4 lg:grid-cols-5">
        <Card title="Timing" className="lg:col-span-2">
          <dl className="-my-2.5 divide-y divide-slate-100">
            <Row label={s.cron ? 'Expression' : 'Once at'}>
              <Timing schedule={s} />
            </Row>
            <Row label="Time zone">
              <span className="font-mono text-xs">{s.timezone}</span>
            </Row>
            <Row label="Next fire">
              <NextFire schedule={s} now={now} />
            </Row>
            <Row label="Missed fires">
              {MISFIRE_TEXT[s.misfire].label} <span className="text-xs text-slate-500">— {MISFIRE_TEXT[s.misfire].hint}</span>
            </Row>
            <Row label="Last fired">
              <span title={formatFullTime(s.last_fired_at)}>{s.last_fired_at ? `${formatInZone(s.last_fired_at, s.timezone)} (${formatRelative(s.last_fired_at, now)})` : 'never'}</span>
            </Row>
            <Row label="Created">
              <span title={formatFullTime(s.created_at)}>{formatInZone(s.created_at, s.timezone)}</span>
            </Row>
          </dl>
        </Card>
        <Card title="Upcoming fires" className="lg:col-span-3" bodyClassName="">
          {s.upcoming.length === 0 ? (
            <EmptyState title={s.paused ? 'Paused: nothing fires until resumed' : 'No more fires'}>
              {s.paused ? `Resuming follows the misfire policy (${MISFIRE_TEXT[s.misfire].label.toLowerCase()}).` : 'A one-time schedule fires once.'}
            </EmptyState>
          ) : (
            <table className="min-w-full text-sm">
              <thead className="border-b border-slate-100 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500">
                <tr>
                  <th className="px-5 py-2 font-semibold">On {s.timezone}</th>
                  <th className="px-3 py-2 font-semibold">UTC</th>
                  <th className="px-5 py-2 text-right font-semibold">From now</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {s.upcoming.map((fire) => {
                  const wall = wallTime(fire.local);
                  return (
                    <tr key={fire.utc} data-testid="upcoming-fire">
                      <td className="px-5 py-2 whitespace-nowrap">
                        {wall.date} <span className="font-mono font-medium">{wall.time}</span> <span className="font-mono text-xs text-slate-400">{offsetOf(fire.local)}</span>
                      </td>
                      <td className="px-3 py-2 font-mono text-xs whitespace-nowrap text-slate-600">{utc(fire.utc)}</td>
                      <td className="px-5 py-2 text-right text-xs text-slate-500">{formatRelative(fire.utc, now)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </Card>
        <Card title="History of fires" className="lg:col-span-3" bodyClassName="" actions={<span className="text-xs text-slate-400">latest 20, newest first</span>}>
          {s.fires.length === 0 ? (
            <EmptyState title="No fires yet" icon={<History className="size-5" />}>
              Each fire shows here with the {target.kind === 'workflow' ? 'run' : 'job'} it made and its status.
            </EmptyState>
          ) : (
            <table className="min-w-full text-sm" data-testid="fires">
              <thead className="border-b border-slate-100 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500">
                <tr>
                  <th className="px-5 py-2 font-semibold">Fire time</th>
                  <th className="px-3 py-2 font-semibold">Made</th>
                  <th className="px-5 py-2 font-semibold">Status</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {s.fires.map((fire) => (
                  <tr key={fire.fire_time} data-testid="fire">
                    <td className="px-5 py-2 whitespace-nowrap">
                      <p>{formatInZone(fire.fire_time, s.timezone)}</p>
                      <p className="font-mono text-[0.7rem] text-slate-500">{utc(fire.fire_time)}</p>
                    </td>
                    <td className="px-3 py-2">
                      {fire.job_id ? (
                        <Link to={`/jobs/${fire.job_id}`} className="font-mono text-xs text-indigo-600 hover:text-indigo-500" title={fire.job_id}>
                          job {shortId(fire.job_id)}
                        </Link>
                      ) : fire.workflow_run_id ? (
                        <Link to={`/workflow-runs/${fire.workflow_run_id}`} className="font-mono text-xs text-indigo-600 hover:text-indigo-500" title={fire.workflow_run_id}>
                          run {shortId(fire.workflow_run_id)}
                        </Link>
                      ) : (
                        <span className="text-xs text-slate-400">deleted</span>
                      )}
                    </td>
                    <td className="px-5 py-2">
                      <AnyStatusBadge status={fire.status} testId="fire-status" />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        <Card title="Each fire makes" className="lg:col-span-2">
          {target.kind === 'workflow' ? (
            <p className="text-sm text-slate-700">
              A run of{' '}
              <Link className="font-medium text-indigo-600" to={`/workflows/${encodeURIComponent(target.name)}`}>
                {target.name}
              </Link>
              .
            </p>
          ) : (
            <>
              <p className="mb-3 text-sm text-slate-600">
                {target.spec.definition ? (
                  <>
                    A job from definition{' '}
                    <Link className="font-medium text-indigo-600" to={`/definitions/${encodeURIComponent(target.spec.definition)}`}>
                      {target.spec.definition}
                    </Link>
                    , with these fields over it:
                  </>
                ) : (
                  'A job from this template:'
                )}
              </p>
              <CodeBlock value={compactSpec(target.spec)} maxHeight="max-h-72" />
            </>
          )}
        </Card>
      </div>
      <ConfirmDialog
        open={confirmDelete}
        title={`Delete schedule ${s.name}?`}
        confirmLabel="Delete schedule"
        onClose={() => setConfirmDelete(false)}
        onConfirm={() => actions.remove.mutate(s, { onSuccess: () => navigate('/schedules') })}
      >
        It stops firing at once. The jobs and runs it already made stay, unlinked from it.
      </ConfirmDialog>
    </>
  );
}

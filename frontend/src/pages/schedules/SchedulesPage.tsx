import { useState } from 'react';
import { Link } from 'react-router';
import { CalendarClock, Pause, Pencil, Play, Plus, Trash2 } from 'lucide-react';
import { useSchedules } from '../../api/queries';
import type { Schedule } from '../../api/types';
import { ConfirmDialog } from '../../components/Dialog';
import { Button, Card, EmptyState, GatedLink, IconButton, LoadError, PageHeader, TableSkeleton } from '../../components/ui';
import { useNow } from '../../lib/useNow';
import { MISFIRE_TEXT, NextFire, PausedPill, targetText, Timing } from './parts';
import { useScheduleActions } from './useScheduleActions';

const th = 'px-3 py-2.5 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500 whitespace-nowrap';
const td = 'px-3 py-3 align-middle';

export function SchedulesPage() {
  const list = useSchedules();
  const now = useNow(5_000);
  const actions = useScheduleActions();
  const [deleting, setDeleting] = useState<Schedule | null>(null);
  const schedules = list.data?.schedules ?? [];
  const paused = schedules.filter((s) => s.paused).length;

  return (
    <>
      <PageHeader
        title="Schedules"
        description={
          list.data
            ? `${schedules.length} ${schedules.length === 1 ? 'schedule' : 'schedules'}${paused ? `, ${paused} paused` : ''}. Each fire makes exactly one job or workflow run, however many workers run.`
            : 'Cron and one-time schedules that make jobs or start workflow runs.'
        }
        actions={
          <GatedLink need="admin" to="/schedules/new" data-testid="new-schedule" className="inline-flex items-center gap-1.5 rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-500">
            <Plus className="size-4" aria-hidden /> New schedule
          </GatedLink>
        }
      />
      <Card bodyClassName="">
        {list.isPending ? (
          <TableSkeleton rows={4} cols={6} />
        ) : list.isError ? (
          <div className="p-5">
            <LoadError error={list.error} feature="Schedules" onRetry={() => void list.refetch()} />
          </div>
        ) : schedules.length === 0 ? (
          <EmptyState title="No schedules yet" icon={<CalendarClock className="size-5" />}>
            Make a job repeat on a cron expression, or run once at a set time.{' '}
            <Link className="font-medium text-indigo-600" to="/schedules/new">
              Create a schedule
            </Link>
            .
          </EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table className="min-w-full text-sm" data-testid="schedules-table">
              <thead className="border-b border-slate-200 bg-slate-50/80">
                <tr>
                  <th className={`${th} pl-5`}>Schedule</th>
                  <th className={th}>When</th>
                  <th className={th}>Time zone</th>
                  <th className={th}>Next fire</th>
                  <th className={th}>Misfire</th>
                  <th className={th}>State</th>
                  <th className={`${th} pr-5 text-right`}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {schedules.map((s) => (
                  <tr key={s.id} data-schedule={s.name} className="hover:bg-slate-50">
                    <td className={`${td} max-w-[20rem] pl-5`}>
                      <Link to={`/schedules/${s.id}`} className="block truncate font-medium text-slate-900 hover:text-indigo-600">
                        {s.name}
                      </Link>
                      <span className="block truncate text-xs text-slate-500" title={targetText(s)}>
                        {targetText(s)}
                      </span>
                    </td>
                    <td className={td}>
                      <Timing schedule={s} />
                    </td>
                    <td className={`${td} font-mono text-xs text-slate-600`}>{s.timezone}</td>
                    <td className={td}>
                      <NextFire schedule={s} now={now} />
                    </td>
                    <td className={`${td} text-xs text-slate-600`} title={MISFIRE_TEXT[s.misfire].hint}>
                      {MISFIRE_TEXT[s.misfire].label}
                    </td>
                    <td className={td}>
                      <PausedPill paused={s.paused} />
                    </td>
                    <td className={`${td} pr-5`}>
                      <div className="flex justify-end gap-1.5">
                        {s.paused ? (
                          <Button size="sm" need="admin" data-testid="resume-schedule" busy={actions.resume.isPending && actions.resume.variables?.id === s.id} onClick={() => actions.resume.mutate(s)}>
                            <Play className="size-3.5" aria-hidden /> Resume
                          </Button>
                        ) : (
                          <Button size="sm" need="admin" data-testid="pause-schedule" busy={actions.pause.isPending && actions.pause.variables?.id === s.id} onClick={() => actions.pause.mutate(s)}>
                            <Pause className="size-3.5" aria-hidden /> Pause
                          </Button>
                        )}
                        <GatedLink need="admin" to={`/schedules/${s.id}/edit`} aria-label={`Edit ${s.name}`} className="rounded-md p-1.5 text-slate-400 hover:bg-slate-100 hover:text-slate-700">
                          <Pencil className="size-4" />
                        </GatedLink>
                        <IconButton need="admin" aria-label={`Delete ${s.name}`} onClick={() => setDeleting(s)} className="text-slate-400 hover:bg-rose-50 hover:text-rose-600">
                          <Trash2 className="size-4" />
                        </IconButton>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete schedule ${deleting?.name ?? ''}?`}
        confirmLabel="Delete schedule"
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && actions.remove.mutate(deleting)}
      >
        It stops firing at once. The jobs and runs it already made stay, unlinked from it.
      </ConfirmDialog>
    </>
  );
}

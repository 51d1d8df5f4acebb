// Small pieces the schedule pages share.
import clsx from 'clsx';
import { Pause, Play } from 'lucide-react';
import type { Misfire, Schedule } from '../../api/types';
import { formatRelative } from '../../lib/format';
import { formatInZone } from '../../lib/zones';
import { describeTemplate } from '../../forms/template';
import { targetOf } from './scheduleForm';

export const MISFIRE_TEXT: Record<Misfire, { label: string; hint: string }> = {
  fire_once: { label: 'Fire once', hint: 'After downtime or a pause, fire once for the latest missed time.' },
  skip: { label: 'Skip', hint: 'Missed times are dropped; go on from the next one.' },
  fire_all: { label: 'Fire all', hint: 'Fire each missed time (at most 100).' },
};

export function PausedPill({ paused }: { paused: boolean }) {
  return (
    <span
      data-testid="schedule-state"
      data-paused={paused}
      className={clsx(
        'inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset whitespace-nowrap',
        paused ? 'bg-amber-50 text-amber-800 ring-amber-600/20' : 'bg-emerald-50 text-emerald-700 ring-emerald-600/20',
      )}
    >
      {paused ? <Pause className="size-3" aria-hidden /> : <Play className="size-3" aria-hidden />}
      {paused ? 'paused' : 'active'}
    </span>
  );
}

/** When it fires: the expression, or the one time. */
export function Timing({ schedule }: { schedule: Schedule }) {
  return schedule.cron ? (
    <code className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-800">{schedule.cron}</code>
  ) : (
    <span className="text-xs text-slate-600">once, {formatInZone(schedule.run_at, schedule.timezone)}</span>
  );
}

/** The next fire on the schedule's clock, in UTC, and from now. */
export function NextFire({ schedule, now }: { schedule: Schedule; now: number }) {
  if (!schedule.next_fire_at) return <span className="text-xs text-slate-400">{schedule.cron ? '—' : 'done'}</span>;
  const utc = schedule.next_fire_at.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
  return (
    <div className={clsx(schedule.paused && 'opacity-60')} data-testid="next-fire">
      <p className="text-sm whitespace-nowrap text-slate-800">{formatInZone(schedule.next_fire_at, schedule.timezone)}</p>
      <p className="flex flex-wrap gap-x-1 text-[0.7rem] text-slate-500">
        <span className="font-mono whitespace-nowrap">{utc}</span>
        <span className="whitespace-nowrap">· {schedule.paused ? 'held while paused' : formatRelative(schedule.next_fire_at, now)}</span>
      </p>
    </div>
  );
}

/** What each fire makes, one line. */
export function targetText(schedule: Schedule): string {
  const target = targetOf(schedule.target);
  return target.kind === 'workflow' ? `workflow ${target.name}` : `${target.spec.kind ?? 'job'} · ${describeTemplate(target.spec)}`;
}

import type { AttemptOutcome, JobStatus } from '../api/types';

interface Tone {
  badge: string;
  dot: string;
  /** Chart colour (hex), matching the badge. */
  hex: string;
}

// Full class names, so Tailwind finds them in the source.
export const STATUS_TONE: Record<JobStatus, Tone> = {
  blocked: { badge: 'bg-slate-100 text-slate-700 ring-slate-500/20', dot: 'bg-slate-400', hex: '#94a3b8' },
  scheduled: { badge: 'bg-violet-50 text-violet-700 ring-violet-600/20', dot: 'bg-violet-500', hex: '#8b5cf6' },
  queued: { badge: 'bg-sky-50 text-sky-700 ring-sky-600/20', dot: 'bg-sky-500', hex: '#0ea5e9' },
  running: { badge: 'bg-blue-50 text-blue-700 ring-blue-600/20', dot: 'bg-blue-500', hex: '#3b82f6' },
  succeeded: { badge: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20', dot: 'bg-emerald-500', hex: '#10b981' },
  dead: { badge: 'bg-rose-50 text-rose-700 ring-rose-600/20', dot: 'bg-rose-500', hex: '#f43f5e' },
  cancelled: { badge: 'bg-amber-50 text-amber-800 ring-amber-600/20', dot: 'bg-amber-500', hex: '#f59e0b' },
  skipped: { badge: 'bg-zinc-100 text-zinc-600 ring-zinc-500/20', dot: 'bg-zinc-400', hex: '#a1a1aa' },
};

export const OUTCOME_TONE: Record<AttemptOutcome, Tone> = {
  running: STATUS_TONE.running,
  succeeded: STATUS_TONE.succeeded,
  failed: STATUS_TONE.dead,
  timed_out: { badge: 'bg-orange-50 text-orange-700 ring-orange-600/20', dot: 'bg-orange-500', hex: '#f97316' },
  cancelled: STATUS_TONE.cancelled,
  interrupted: STATUS_TONE.blocked,
  lost: { badge: 'bg-fuchsia-50 text-fuchsia-700 ring-fuchsia-600/20', dot: 'bg-fuchsia-500', hex: '#d946ef' },
};

// When a schedule fires: a cron expression (or one time) on the wall clock of
// an IANA time zone, with the next fire times from the server as you type.
import clsx from 'clsx';
import { CalendarClock, Globe2, Loader2, Repeat } from 'lucide-react';
import { formatRelative } from '../lib/format';
import { useNow } from '../lib/useNow';
import { browserZone, offsetOf, timeZones } from '../lib/zones';
import { CRON_PRESETS } from './cron';
import { Field, FieldError, TextInput } from './fields';
import type { FieldErrors } from './jobForm';
import { usePreview, type PreviewInput } from './usePreview';

export interface TimeValue {
  timing: 'cron' | 'once';
  cron: string;
  timezone: string;
  /** datetime-local, on the zone's wall clock. */
  runAt: string;
}

/** "Mon 23 Nov 2026 · 09:00:00" from the server's `local` (RFC 3339 with the
 *  zone's offset), without converting it to the browser's zone. */
export function wallTime(local: string): { date: string; time: string } {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})/.exec(local);
  if (!m) return { date: local, time: '' };
  const [, y, mo, d, time] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  const date = new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(day);
  return { date, time: time ?? '' };
}

function utcTime(iso: string): string {
  return iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
}

export function ScheduleTimeFields({ value, onChange, errors, runAtIso, allowOnce = true }: {
  value: TimeValue;
  onChange: (change: Partial<TimeValue>, fields: string[]) => void;
  /** Errors of the form (page checks once submitted, the server's 422 on submit). */
  errors: FieldErrors;
  /** `runAt` as an instant in the zone (for the preview), or null. */
  runAtIso: string | null;
  allowOnce?: boolean;
}) {
  const now = useNow(10_000);
  const input: PreviewInput = { timing: value.timing, cron: value.cron, timezone: value.timezone, runAt: runAtIso };
  const preview = usePreview(input);
  // The preview speaks for the current input; the form's errors otherwise.
  const err = (field: string) => (preview.invalid?.field === field ? preview.invalid.message : errors[field]);
  const zones = timeZones();
  const here = browserZone();

  return (
    <div className="space-y-5">
      {allowOnce && (
        <div role="radiogroup" aria-label="Repeats" className="inline-flex rounded-lg bg-slate-100 p-1">
          {(
            [
              ['cron', 'Repeating (cron)', Repeat],
              ['once', 'Once', CalendarClock],
            ] as const
          ).map(([timing, label, Icon]) => (
            <button
              key={timing}
              type="button"
              role="radio"
              aria-checked={value.timing === timing}
              data-testid={`timing-${timing}`}
              onClick={() => onChange({ timing }, ['cron', 'run_at'])}
              className={clsx(
                'inline-flex items-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium',
                value.timing === timing ? 'bg-white text-slate-900 shadow-sm' : 'text-slate-600 hover:text-slate-900',
              )}
            >
              <Icon className="size-3.5" aria-hidden /> {label}
            </button>
          ))}
        </div>
      )}

      <div className="grid gap-5 sm:grid-cols-2">
        {value.timing === 'cron' ? (
          <div>
            <Field
              field="cron"
              label="Cron expression"
              hint="minute hour day-of-month month day-of-week; 6 fields with seconds first; or @hourly, @daily, …"
              error={err('cron')}
            >
              <TextInput
                field="cron"
                value={value.cron}
                placeholder="30 2 * * *"
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => onChange({ cron: e.target.value }, ['cron'])}
                error={err('cron')}
                className="font-mono"
              />
            </Field>
            <div className="mt-2 flex flex-wrap gap-1.5" aria-label="Presets">
              {CRON_PRESETS.map((p) => (
                <button
                  key={p.cron}
                  type="button"
                  title={p.cron}
                  onClick={() => onChange({ cron: p.cron }, ['cron'])}
                  className={clsx(
                    'rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset',
                    value.cron.trim() === p.cron ? 'bg-indigo-50 text-indigo-700 ring-indigo-200' : 'text-slate-600 ring-slate-200 hover:bg-slate-50',
                  )}
                >
                  {p.label}
                </button>
              ))}
            </div>
          </div>
        ) : (
          <Field field="run_at" label="Run at" hint={`On the wall clock of ${value.timezone || 'the zone'}.`} error={err('run_at')}>
            <TextInput field="run_at" type="datetime-local" step={1} value={value.runAt} onChange={(e) => onChange({ runAt: e.target.value }, ['run_at'])} error={err('run_at')} />
          </Field>
        )}
        <div>
          <Field field="timezone" label="Time zone" hint="An IANA name; the expression is read on its wall clock, daylight saving included." error={err('timezone')}>
            <TextInput
              field="timezone"
              list="iana-zones"
              value={value.timezone}
              autoComplete="off"
              spellCheck={false}
              placeholder="UTC"
              onChange={(e) => onChange({ timezone: e.target.value }, ['timezone', 'run_at'])}
              error={err('timezone')}
              className="font-mono"
            />
            <datalist id="iana-zones">
              {zones.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
          </Field>
          <div className="mt-2 flex flex-wrap gap-1.5">
            {[...new Set(['UTC', here])].map((z) => (
              <button
                key={z}
                type="button"
                onClick={() => onChange({ timezone: z }, ['timezone', 'run_at'])}
                className="inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs font-medium text-slate-600 ring-1 ring-inset ring-slate-200 hover:bg-slate-50"
              >
                <Globe2 className="size-3" aria-hidden /> {z === here && z !== 'UTC' ? `${z} (this browser)` : z}
              </button>
            ))}
          </div>
        </div>
      </div>

      <div className="rounded-lg border border-slate-200 bg-slate-50/70" data-testid="preview" aria-live="polite">
        <div className="flex items-center justify-between gap-3 border-b border-slate-200 px-4 py-2">
          <p className="text-xs font-semibold uppercase tracking-wider text-slate-500">
            Next fire times{preview.timezone ? ` · ${preview.timezone}` : ''}
          </p>
          {preview.pending && preview.request !== null && <Loader2 className="size-3.5 animate-spin text-slate-400" aria-label="Updating" />}
        </div>
        {preview.unavailable ? (
          <p className="px-4 py-3 text-sm text-slate-500">This server has no preview endpoint.</p>
        ) : preview.invalid ? (
          <p className="px-4 py-3 text-sm text-rose-700" data-testid="preview-error">
            {preview.invalid.field}: {preview.invalid.message}
          </p>
        ) : preview.failed ? (
          <p className="px-4 py-3 text-sm text-rose-700">{preview.failed instanceof Error ? preview.failed.message : String(preview.failed)}</p>
        ) : preview.fires.length === 0 ? (
          <p className="px-4 py-3 text-sm text-slate-500">
            {preview.request === null ? (value.timing === 'cron' ? 'Type an expression to see when it fires.' : 'Pick a time to see it in UTC.') : 'Loading…'}
          </p>
        ) : (
          <table className="w-full text-sm">
            <thead>
              <tr className="text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-400">
                <th className="px-4 pt-2 pb-1 font-semibold">On the zone’s clock</th>
                <th className="px-4 pt-2 pb-1 font-semibold">UTC</th>
                <th className="px-4 pt-2 pb-1 text-right font-semibold">From now</th>
              </tr>
            </thead>
            <tbody className={clsx(preview.pending && 'opacity-60')}>
              {preview.fires.map((fire) => {
                const wall = wallTime(fire.local);
                return (
                  <tr key={fire.utc} data-testid="preview-fire" className="border-t border-slate-200/70 first:border-0">
                    <td className="px-4 py-1.5 whitespace-nowrap">
                      <span className="text-slate-800">{wall.date}</span> <span className="font-mono font-medium text-slate-900">{wall.time}</span>{' '}
                      <span className="font-mono text-xs text-slate-400">{offsetOf(fire.local)}</span>
                    </td>
                    <td className="px-4 py-1.5 font-mono text-xs whitespace-nowrap text-slate-600">{utcTime(fire.utc)}</td>
                    <td className="px-4 py-1.5 text-right text-xs whitespace-nowrap text-slate-500">{formatRelative(fire.utc, now)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </div>
      <FieldError field="schedule" error={errors['schedule']} />
    </div>
  );
}

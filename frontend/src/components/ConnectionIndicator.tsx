import clsx from 'clsx';
import { useLiveState } from '../live/LiveProvider';
import { useNow } from '../lib/useNow';

/** Shows whether the live feed is up; counts down to the next reconnect. */
export function ConnectionIndicator() {
  const { state, reconnectNow } = useLiveState();
  const now = useNow(500);
  let dot = 'bg-emerald-500';
  let label = 'Live';
  let detail = 'Updates stream in as jobs change state';
  if (state.kind === 'connecting') {
    dot = 'bg-amber-400 animate-pulse';
    label = state.attempt > 1 ? 'Reconnecting…' : 'Connecting…';
    detail = 'Opening the live feed';
  } else if (state.kind === 'reconnecting') {
    const secs = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
    dot = 'bg-rose-500';
    label = 'Offline';
    detail = `${state.reason}; retrying in ${secs} s`;
  } else if (state.kind === 'signed-out') {
    dot = 'bg-slate-400';
    label = 'Signed out';
    detail = 'Sign in again for live updates';
  }
  return (
    <div
      data-testid="live-indicator"
      data-state={state.kind}
      className="flex items-center gap-2.5 rounded-lg border border-slate-200 bg-white px-3 py-2 text-xs"
      title={detail}
    >
      <span className="relative flex size-2.5">
        {state.kind === 'live' && <span className="absolute inline-flex size-full animate-ping rounded-full bg-emerald-400 opacity-60" />}
        <span className={clsx('relative inline-flex size-2.5 rounded-full', dot)} />
      </span>
      <div className="min-w-0 flex-1">
        <p className="font-medium text-slate-800">{label}</p>
        <p className="truncate text-slate-500">{detail}</p>
      </div>
      {state.kind === 'reconnecting' && (
        <button type="button" onClick={reconnectNow} className="font-medium text-indigo-600 hover:text-indigo-500">
          Retry
        </button>
      )}
    </div>
  );
}

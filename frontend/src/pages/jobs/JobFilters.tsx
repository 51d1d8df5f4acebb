import { useEffect, useState } from 'react';
import { Search, X } from 'lucide-react';
import type { ListParams } from '../../api/endpoints';
import { JOB_STATUSES, type JobStatus } from '../../api/types';
import { useKnownKinds, useKnownQueues } from '../../lib/known';

const control =
  'h-9 rounded-md border-0 bg-white px-2.5 text-sm text-slate-800 shadow-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-500 focus:outline-none';

/** Status, queue, kind and name filters; every change resets to the first page. */
export function JobFilters({ params, onChange, lockStatus }: {
  params: ListParams;
  onChange: (next: Partial<ListParams>) => void;
  lockStatus?: boolean;
}) {
  const queues = useKnownQueues();
  const kinds = useKnownKinds();
  const [name, setName] = useState(params.name ?? '');

  // Follow the URL (back/forward), and debounce typing into it.
  useEffect(() => setName(params.name ?? ''), [params.name]);
  useEffect(() => {
    if ((params.name ?? '') === name) return;
    const timer = setTimeout(() => onChange({ name: name || undefined }), 300);
    return () => clearTimeout(timer);
  }, [name, params.name, onChange]);

  const active = Boolean((!lockStatus && params.status) || params.queue || params.kind || params.name);

  return (
    <div className="flex flex-wrap items-center gap-2" role="search">
      <div className="relative min-w-56 flex-1">
        <Search className="pointer-events-none absolute top-2.5 left-2.5 size-4 text-slate-400" aria-hidden />
        <input
          type="search"
          aria-label="Search by name"
          placeholder="Search by name…"
          value={name}
          onChange={(e) => setName(e.target.value)}
          className={`${control} w-full pl-8`}
        />
      </div>
      {!lockStatus && (
        <select
          aria-label="Status"
          value={params.status ?? ''}
          onChange={(e) => onChange({ status: (e.target.value || undefined) as JobStatus | undefined })}
          className={control}
        >
          <option value="">All statuses</option>
          {JOB_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      )}
      <select aria-label="Queue" value={params.queue ?? ''} onChange={(e) => onChange({ queue: e.target.value || undefined })} className={control}>
        <option value="">All queues</option>
        {[...new Set([...queues, ...(params.queue ? [params.queue] : [])])].map((q) => (
          <option key={q} value={q}>
            {q}
          </option>
        ))}
      </select>
      <select aria-label="Kind" value={params.kind ?? ''} onChange={(e) => onChange({ kind: e.target.value || undefined })} className={control}>
        <option value="">All kinds</option>
        {[...new Set([...kinds, ...(params.kind ? [params.kind] : [])])].map((k) => (
          <option key={k} value={k}>
            {k}
          </option>
        ))}
      </select>
      <select
        aria-label="Sort"
        value={params.sort ?? 'created'}
        onChange={(e) => onChange({ sort: e.target.value === 'priority' ? 'priority' : undefined })}
        className={control}
      >
        <option value="created">Newest first</option>
        <option value="priority">Highest priority first</option>
      </select>
      {active && (
        <button
          type="button"
          onClick={() => {
            setName('');
            onChange({ status: lockStatus ? params.status : undefined, queue: undefined, kind: undefined, name: undefined });
          }}
          className="inline-flex h-9 items-center gap-1 rounded-md px-2 text-sm font-medium text-slate-500 hover:bg-slate-100 hover:text-slate-800"
        >
          <X className="size-3.5" aria-hidden /> Clear filters
        </button>
      )}
    </div>
  );
}

// A filtered, paginated, selectable list of jobs: the Jobs page and the Dead
// letters page are both this with different settings.
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useLocation, useNavigate, useSearchParams } from 'react-router';
import { ChevronLeft, ChevronRight, ChevronsLeft } from 'lucide-react';
import type { ListParams } from '../../api/endpoints';
import { filterOf, useJobList } from '../../api/queries';
import type { Job } from '../../api/types';
import { JobsTable } from '../../components/JobsTable';
import { Button, Card, LoadError, TableSkeleton } from '../../components/ui';
import { BulkBar } from './BulkBar';
import { JobFilters } from './JobFilters';
import { PAGE_SIZES, paramsFromSearch, searchFromParams } from './filters';
import type { BulkAction } from './bulk';
import { useBulk } from './useBulk';

interface TrailState {
  /** Cursors of the pages before this one, to go back. */
  trail?: (string | null)[];
}

export function JobListView({ fixed, variant = 'jobs', actions, rowActions, empty }: {
  fixed?: Partial<ListParams>;
  variant?: 'jobs' | 'dead';
  actions: readonly BulkAction[];
  rowActions?: (job: Job, bulk: ReturnType<typeof useBulk>) => ReactNode;
  empty: (filtered: boolean) => ReactNode;
}) {
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const location = useLocation();
  const trail = (location.state as TrailState | null)?.trail ?? [];
  const params = useMemo(() => paramsFromSearch(search, fixed), [search, fixed]);
  const list = useJobList(params);
  const bulk = useBulk();
  const [selected, setSelected] = useState<Set<string>>(new Set());

  const go = useCallback(
    (next: ListParams, nextTrail: (string | null)[], replace = false) => {
      const query = searchFromParams({ ...next, ...(fixed?.status ? { status: undefined } : {}) }).toString();
      navigate({ search: query ? `?${query}` : '' }, { state: { trail: nextTrail } satisfies TrailState, replace });
    },
    [navigate, fixed],
  );
  const onFilter = useCallback(
    (change: Partial<ListParams>) => go({ ...params, ...change, cursor: undefined }, [], true),
    [go, params],
  );

  // A selection belongs to one filter.
  const filterKey = JSON.stringify(filterOf(params));
  useEffect(() => setSelected(new Set()), [filterKey]);

  const jobs = list.data?.jobs ?? [];
  const selectedJobs = jobs.filter((j) => selected.has(j.id));
  const filtered = Boolean(params.queue || params.kind || params.name || (!fixed?.status && params.status));
  const onFirstPage = !params.cursor;
  const pageNumber = trail.length + 1;

  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const toggleAll = (select: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      for (const j of jobs) {
        if (select) next.add(j.id);
        else next.delete(j.id);
      }
      return next;
    });

  return (
    <div className="space-y-4">
      <JobFilters params={params} onChange={onFilter} lockStatus={Boolean(fixed?.status)} />
      <Card bodyClassName="">
        <BulkBar bulk={bulk} selectedJobs={selectedJobs} onClear={() => setSelected(new Set())} filter={filterOf(params)} actions={actions} />
        {list.isPending ? (
          <TableSkeleton />
        ) : list.isError ? (
          <div className="p-5">
            <LoadError error={list.error} feature="The jobs list" onRetry={() => void list.refetch()} />
          </div>
        ) : jobs.length === 0 ? (
          empty(filtered || !onFirstPage)
        ) : (
          <JobsTable
            jobs={jobs}
            selected={selected}
            onToggle={toggle}
            onToggleAll={toggleAll}
            variant={variant}
            dimmed={list.isPlaceholderData}
            {...(rowActions ? { rowActions: (job: Job) => rowActions(job, bulk) } : {})}
          />
        )}
        <footer className="flex flex-wrap items-center justify-between gap-3 border-t border-slate-100 px-5 py-3 text-sm text-slate-500">
          <div className="flex items-center gap-2">
            <span>
              Page {pageNumber}
              {jobs.length > 0 && ` · ${jobs.length} ${jobs.length === 1 ? 'job' : 'jobs'}`} · {params.sort === 'priority' ? 'highest priority first' : 'newest first'}
            </span>
            <label className="flex items-center gap-1.5">
              <span className="sr-only sm:not-sr-only">· per page</span>
              <select
                aria-label="Jobs per page"
                value={params.limit}
                onChange={(e) => go({ ...params, limit: Number(e.target.value), cursor: undefined }, [], true)}
                className="h-7 rounded-md border-0 bg-white px-1.5 text-sm ring-1 ring-inset ring-slate-300"
              >
                {PAGE_SIZES.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <div className="flex items-center gap-2">
            <Button size="sm" variant="ghost" disabled={onFirstPage} onClick={() => go({ ...params, cursor: undefined }, [])}>
              <ChevronsLeft className="size-3.5" aria-hidden /> First
            </Button>
            <Button
              size="sm"
              disabled={onFirstPage}
              onClick={() => {
                const previous = trail[trail.length - 1] ?? null;
                go({ ...params, cursor: previous ?? undefined }, trail.slice(0, -1));
              }}
            >
              <ChevronLeft className="size-3.5" aria-hidden /> Previous
            </Button>
            <Button
              size="sm"
              data-testid="next-page"
              disabled={!list.data?.next_cursor}
              onClick={() => go({ ...params, cursor: list.data?.next_cursor ?? undefined }, [...trail, params.cursor ?? null])}
            >
              Next page <ChevronRight className="size-3.5" aria-hidden />
            </Button>
          </div>
        </footer>
      </Card>
    </div>
  );
}

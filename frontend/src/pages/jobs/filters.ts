// The jobs list's state lives in the URL query, so a filtered view can be
// bookmarked and shared: ?status=&queue=&kind=&name=&sort=&limit=&cursor=
import type { ListParams } from '../../api/endpoints';
import { JOB_STATUSES, type JobStatus } from '../../api/types';

export const PAGE_SIZES = [25, 50, 100, 200] as const;
export const DEFAULT_PAGE_SIZE = 50;

export function paramsFromSearch(search: URLSearchParams, fixed: Partial<ListParams> = {}): ListParams {
  const status = search.get('status') ?? '';
  const limit = Number(search.get('limit'));
  return {
    status: (JOB_STATUSES as readonly string[]).includes(status) ? (status as JobStatus) : undefined,
    queue: search.get('queue') || undefined,
    kind: search.get('kind') || undefined,
    name: search.get('name') || undefined,
    sort: search.get('sort') === 'priority' ? 'priority' : undefined,
    limit: (PAGE_SIZES as readonly number[]).includes(limit) ? limit : DEFAULT_PAGE_SIZE,
    cursor: search.get('cursor') || undefined,
    ...fixed,
  };
}

/** The search string for `params` (defaults left out). */
export function searchFromParams(params: ListParams): URLSearchParams {
  const search = new URLSearchParams();
  if (params.status) search.set('status', params.status);
  if (params.queue) search.set('queue', params.queue);
  if (params.kind) search.set('kind', params.kind);
  if (params.name) search.set('name', params.name);
  if (params.sort === 'priority') search.set('sort', 'priority');
  if (params.limit && params.limit !== DEFAULT_PAGE_SIZE) search.set('limit', String(params.limit));
  if (params.cursor) search.set('cursor', params.cursor);
  return search;
}

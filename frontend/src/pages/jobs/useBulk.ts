import { useCallback, useRef, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/endpoints';
import { keys } from '../../api/queries';
import type { Job, JobFilter } from '../../api/types';
import { useToast } from '../../components/toast';
import { actOnAllMatching, actOnSelection, emptyProgress, summarise, type BulkAction, type BulkDeps, type BulkProgress } from './bulk';

const deps: BulkDeps = {
  bulk: (request, signal) => api.bulkJobs(request, { signal }),
  list: (params, signal) => api.listJobs(params, { signal }),
  act: (action, id) => (action === 'cancel' ? api.cancelJob(id) : action === 'retry' ? api.retryJob(id) : api.deleteJob(id)),
};

export interface BulkRun {
  action: BulkAction;
  scope: 'selection' | 'all';
  progress: BulkProgress;
}

/** Runs cancel/retry/delete on a selection or on everything matching a
 *  filter, with progress, abort, a toast at the end and a cache refresh. */
export function useBulk() {
  const client = useQueryClient();
  const toast = useToast();
  const [run, setRun] = useState<BulkRun | null>(null);
  const abort = useRef<AbortController | null>(null);

  const start = useCallback(
    async (action: BulkAction, scope: BulkRun['scope'], work: (signal: AbortSignal, onProgress: (p: BulkProgress) => void) => Promise<BulkProgress>) => {
      const controller = new AbortController();
      abort.current = controller;
      let progress = emptyProgress();
      setRun({ action, scope, progress });
      const onProgress = (p: BulkProgress) => {
        progress = p;
        setRun({ action, scope, progress: p });
      };
      try {
        progress = await work(controller.signal, onProgress);
      } catch (e) {
        if (!(e instanceof DOMException && e.name === 'AbortError')) {
          progress = { ...progress, failed: progress.failed + 1, errors: [...progress.errors, e instanceof Error ? e.message : String(e)] };
        }
      }
      setRun(null);
      abort.current = null;
      toast(progress.failed ? 'error' : 'success', summarise(action, progress));
      void client.invalidateQueries({ queryKey: keys.all });
    },
    [client, toast],
  );

  const onSelection = useCallback(
    (action: BulkAction, jobs: readonly Job[]) => start(action, 'selection', (signal, onProgress) => actOnSelection(action, jobs, deps, { signal, onProgress })),
    [start],
  );
  const onAllMatching = useCallback(
    (action: BulkAction, filter: JobFilter) => start(action, 'all', (signal, onProgress) => actOnAllMatching(action, filter, deps, { signal, onProgress })),
    [start],
  );
  const stop = useCallback(() => abort.current?.abort(), []);

  return { run, onSelection, onAllMatching, stop };
}

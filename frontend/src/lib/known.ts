// Queue and kind names the dashboard can suggest in filters and forms.
import { useMemo } from 'react';
import { useQueues, useWorkers } from '../api/queries';
import type { WorkerQueue } from '../api/types';

export const BUILTIN_KINDS = ['noop', 'sleep', 'shell', 'http'] as const;

export function useKnownQueues(): string[] {
  const queues = useQueues();
  const workers = useWorkers();
  return useMemo(() => {
    const names = new Set<string>(['default']);
    for (const q of queues.data?.queues ?? []) names.add(q.queue);
    for (const w of workers.data?.workers ?? []) for (const q of w.queues) names.add(parseWorkerQueue(q).name);
    return [...names].sort();
  }, [queues.data, workers.data]);
}

export function useKnownKinds(): string[] {
  const workers = useWorkers();
  return useMemo(() => {
    const kinds = new Set<string>(BUILTIN_KINDS);
    for (const w of workers.data?.workers ?? []) for (const k of w.kinds) kinds.add(k);
    return [...kinds].sort();
  }, [workers.data]);
}

/**
 * A worker's queue: `{name, weight}`, or on an older api the string
 * "name:weight" (queue names may contain ':' too, so the weight is what
 * follows the last one).
 */
export function parseWorkerQueue(entry: WorkerQueue): { name: string; weight: number } {
  if (typeof entry !== 'string') return { name: entry.name, weight: entry.weight };
  const at = entry.lastIndexOf(':');
  const weight = at > 0 ? entry.slice(at + 1) : '';
  if (/^\d+$/.test(weight)) return { name: entry.slice(0, at), weight: Number(weight) };
  return { name: entry, weight: 1 };
}

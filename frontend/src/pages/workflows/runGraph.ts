// A run as a coloured graph: each node carries its job's status, so the DAG
// view paints it (the colours follow STATUS_TONE). Pure: the live feed keeps
// the run in the cache (src/live/reducer.ts applyEventsToRun), this draws it.
import type { JobStatus, RunDetail, RunNode } from '../../api/types';
import type { DagNode } from '../../components/graph/DagView';
import { JOB_STATUSES } from '../../api/types';
import { describeTemplate } from '../../forms/template';
import { durationBetween } from '../../lib/format';

function detailOf(node: RunNode): string {
  const job = node.job;
  const tries = job.attempt - job.attempt_base;
  const parts: string[] = [];
  if (tries > 0) parts.push(`attempt ${tries}/${job.max_attempts}`);
  if (job.started_at && job.finished_at) parts.push(durationBetween(job.started_at, job.finished_at));
  if (job.status === 'blocked') parts.push(`waits for ${node.parents.join(', ')}`);
  return parts.join(' · ');
}

export function runGraph(run: RunDetail): { nodes: DagNode[]; edges: [string, string][] } {
  const nodes = run.nodes.map((node) => ({
    key: node.key,
    status: node.job.status,
    subtitle: describeTemplate({ kind: node.job.kind, payload: node.job.payload }),
    detail: detailOf(node) || undefined,
  }));
  const edges = run.nodes.flatMap((node) => node.parents.map((parent) => [parent, node.key] as [string, string]));
  return { nodes, edges };
}

/** How many nodes are in each status, in the statuses' usual order. */
export function countByStatus(statuses: readonly JobStatus[]): [JobStatus, number][] {
  const counts = new Map<JobStatus, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return JOB_STATUSES.filter((s) => counts.has(s)).map((s) => [s, counts.get(s) ?? 0]);
}

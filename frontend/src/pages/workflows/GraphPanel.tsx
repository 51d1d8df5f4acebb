// The editor's graph: the DAG as it stands, with the page's own check and the
// server's answer drawn on it (a cycle in red, with its path).
import { AlertTriangle, CheckCircle2, ServerCrash } from 'lucide-react';
import { DagView, type DagNode } from '../../components/graph/DagView';
import { cycleParts, edgeId, type Edge, type GraphCheck } from '../../lib/dag';

export interface ServerVerdict {
  /** The cycle of a 409 (`error.details.cycle`). */
  cycle: string[] | null;
  message: string;
  status: number;
  /** A 422's field (`edges[2]`, `nodes[1].key`, …). */
  field?: string | undefined;
}

export function GraphPanel({ nodes, edges, check, server, selected, onSelect }: {
  nodes: DagNode[];
  edges: readonly Edge[];
  check: GraphCheck | null;
  server: ServerVerdict | null;
  selected?: string | null;
  onSelect?: (key: string) => void;
}) {
  const problem = (() => {
    if (server?.cycle) return cycleParts(server.cycle);
    const edge = server?.field ? /^edges\[(\d+)\]/.exec(server.field) : null;
    if (edge) {
      const e = edges[Number(edge[1])];
      if (e) return { nodes: new Set<string>(), edges: new Set([edgeId(e[0], e[1])]) };
    }
    const node = server?.field ? /^nodes\[(\d+)\]/.exec(server.field) : null;
    if (node) {
      const n = nodes[Number(node[1])];
      if (n) return { nodes: new Set([n.key]), edges: new Set<string>() };
    }
    if (check && !check.ok) {
      const p = check.problem;
      if (p.kind === 'cycle') return cycleParts(p.cycle);
      if (p.kind === 'self-edge') return { nodes: new Set([p.key]), edges: new Set<string>() };
      if (p.kind === 'duplicate-node') return { nodes: new Set([p.key]), edges: new Set<string>() };
    }
    return undefined;
  })();

  return (
    <div className="space-y-3">
      <DagView nodes={nodes} edges={edges} problem={problem} selected={selected} onNodeClick={onSelect} compact className="h-[26rem]" testId="workflow-graph" />
      {server && (server.cycle || server.field?.startsWith('edges') || server.field?.startsWith('nodes')) ? (
        <div role="alert" data-testid="graph-problem" data-source="server" className="flex items-start gap-2.5 rounded-lg border border-rose-200 bg-rose-50 px-3.5 py-2.5 text-sm text-rose-800">
          <ServerCrash className="mt-0.5 size-4 shrink-0" aria-hidden />
          <div className="min-w-0">
            <p className="font-medium">
              The server refused the workflow ({server.status}){server.field ? ` at ${server.field}` : ''}
            </p>
            {server.cycle ? (
              <p className="mt-0.5" data-testid="cycle-path">
                Cycle: <span className="font-mono font-semibold">{server.cycle.join(' → ')}</span>
              </p>
            ) : (
              <p className="mt-0.5 break-words">{server.message}</p>
            )}
          </div>
        </div>
      ) : check && !check.ok ? (
        <div role="alert" data-testid="graph-problem" data-source="page" className="flex items-start gap-2.5 rounded-lg border border-amber-200 bg-amber-50 px-3.5 py-2.5 text-sm text-amber-900">
          <AlertTriangle className="mt-0.5 size-4 shrink-0" aria-hidden />
          <div className="min-w-0">
            <p className="font-medium">{check.problem.kind === 'cycle' ? 'This graph has a cycle' : 'This graph is not valid yet'}</p>
            {check.problem.kind === 'cycle' ? (
              <p className="mt-0.5" data-testid="cycle-path">
                <span className="font-mono font-semibold">{check.problem.cycle.join(' → ')}</span> — the server will refuse it with 409.
              </p>
            ) : (
              <p className="mt-0.5 break-words">
                {check.problem.field}: {check.problem.message}
              </p>
            )}
          </div>
        </div>
      ) : check?.ok && nodes.length > 0 ? (
        <p className="flex items-start gap-2 text-xs text-slate-500" data-testid="graph-ok">
          <CheckCircle2 className="mt-px size-3.5 shrink-0 text-emerald-500" aria-hidden />
          <span>
            Acyclic. Runs in the order <span className="font-mono text-slate-700">{check.order.join(' → ')}</span>
            {check.order.length > 1 ? ' (nodes without a path between them run in parallel)' : ''}.
          </span>
        </p>
      ) : null}
    </div>
  );
}

// A workflow's DAG, drawn left to right (@xyflow/react, laid out by dagre).
// Nodes can carry a job status (a run: coloured by state) or be marked as
// part of a problem (a cycle: red, with its edges).
import '@xyflow/react/dist/style.css';
import clsx from 'clsx';
import { useEffect, useMemo } from 'react';
import {
  Background,
  BaseEdge,
  Controls,
  getBezierPath,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Edge as FlowEdge,
  type EdgeProps,
  type Node as FlowNode,
  type NodeProps,
} from '@xyflow/react';
import type { JobStatus } from '../../api/types';
import { STATUS_TONE } from '../status';
import { edgeId } from '../../lib/dag';
import { COMPACT, layoutDag, REGULAR, smoothPath, type DagLayout, type Point, type Size } from './layout';

export interface DagNode {
  key: string;
  /** What it runs, one line. */
  subtitle?: string | undefined;
  status?: JobStatus | undefined;
  /** A line under the subtitle (attempts, duration). */
  detail?: string | undefined;
}

export interface DagViewProps {
  nodes: readonly DagNode[];
  edges: readonly (readonly [string, string])[];
  /** Drawn in red: a cycle's nodes and edges (`a→b` ids), or a bad node. */
  problem?: { nodes: ReadonlySet<string>; edges: ReadonlySet<string> } | undefined;
  selected?: string | null | undefined;
  onNodeClick?: ((key: string) => void) | undefined;
  /** Smaller nodes, for a side panel. */
  compact?: boolean;
  /** A fixed height (a Tailwind `h-…` class); otherwise as tall as the graph, within limits. */
  className?: string;
  testId?: string;
}

// A type alias of an object type (not an interface), as xyflow's data wants.
type NodeData = {
  key: string;
  subtitle?: string | undefined;
  status?: JobStatus | undefined;
  detail?: string | undefined;
  problem: boolean;
  selected: boolean;
  clickable: boolean;
  size: Size;
};

type EdgeData = { route?: Point[] | undefined };

// Edges follow dagre's routes, not the handles; xyflow still needs them.
const handle = '!size-1 !min-h-0 !min-w-0 !border-0 !opacity-0';

function DagNodeCard({ data }: NodeProps<FlowNode<NodeData>>) {
  const tone = data.status ? STATUS_TONE[data.status] : null;
  return (
    <div
      data-testid="graph-node"
      data-key={data.key}
      data-status={data.status}
      data-problem={data.problem || undefined}
      style={{ width: data.size.width, height: data.size.height, ...(tone && !data.problem ? { borderColor: tone.hex } : {}) }}
      className={clsx(
        'relative flex flex-col justify-center overflow-hidden rounded-lg border bg-white py-1 pr-2.5 pl-3 shadow-sm transition-colors',
        data.problem ? 'border-rose-500 bg-rose-50 ring-2 ring-rose-400/60' : tone ? 'border-2' : 'border-slate-300',
        data.selected && !data.problem && 'ring-2 ring-indigo-500/70',
        data.clickable && 'cursor-pointer hover:shadow-md',
      )}
    >
      <Handle type="target" position={Position.Left} className={handle} isConnectable={false} />
      {tone && <span className="absolute inset-y-0 left-0 w-1.5" style={{ backgroundColor: tone.hex }} aria-hidden />}
      <span className={clsx('truncate font-mono text-[0.8rem] leading-tight font-semibold', data.problem ? 'text-rose-700' : 'text-slate-900')}>{data.key}</span>
      {data.subtitle && <span className="truncate text-[0.7rem] leading-snug text-slate-500">{data.subtitle}</span>}
      {(data.status || data.detail) && (
        <span className="flex min-w-0 items-center gap-1 text-[0.65rem] leading-snug text-slate-400">
          {data.status && (
            <>
              <span className={clsx('size-1.5 shrink-0 rounded-full', tone?.dot, data.status === 'running' && 'animate-pulse')} />
              <span className="font-medium" style={{ color: tone?.hex }}>
                {data.status}
              </span>
              {data.detail && <span aria-hidden>·</span>}
            </>
          )}
          {data.detail && <span className="truncate">{data.detail}</span>}
        </span>
      )}
      <Handle type="source" position={Position.Right} className={handle} isConnectable={false} />
    </div>
  );
}

/** An edge along dagre's route (around nodes; a cycle's closing edge back
 *  around the graph); a plain curve when there is none. */
function RoutedEdge({ data, markerEnd, style, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition }: EdgeProps<FlowEdge<EdgeData>>) {
  const route = data?.route;
  const path = route && route.length >= 2 ? smoothPath(route) : getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition })[0];
  return <BaseEdge path={path} {...(markerEnd ? { markerEnd } : {})} {...(style ? { style } : {})} />;
}

const nodeTypes = { dag: DagNodeCard };
const edgeTypes = { routed: RoutedEdge };

/** Fits the view whenever the graph's shape changes (a node added, say). */
function FitOnChange({ shape }: { shape: string }) {
  const flow = useReactFlow();
  useEffect(() => {
    const frame = requestAnimationFrame(() => void flow.fitView({ padding: 0.12, maxZoom: 1.1, duration: 150 }));
    return () => cancelAnimationFrame(frame);
  }, [shape, flow]);
  return null;
}

function DagCanvas({ nodes, edges, problem, selected, onNodeClick, testId, layout, shape, size }: DagViewProps & { layout: DagLayout; shape: string; size: Size }) {
  const flowNodes: FlowNode<NodeData>[] = nodes.map((node, i) => ({
    id: node.key,
    type: 'dag',
    position: { x: layout.nodes[i]?.x ?? 0, y: layout.nodes[i]?.y ?? 0 },
    data: { ...node, problem: problem?.nodes.has(node.key) ?? false, selected: selected === node.key, clickable: Boolean(onNodeClick), size },
    draggable: false,
    connectable: false,
  }));
  const known = new Set(nodes.map((n) => n.key));
  const flowEdges: FlowEdge<EdgeData>[] = edges
    .filter(([p, c]) => known.has(p) && known.has(c))
    .map(([parent, child]) => {
      const id = edgeId(parent, child);
      const bad = problem?.edges.has(id) ?? false;
      const colour = bad ? '#e11d48' : '#94a3b8';
      return {
        id,
        source: parent,
        target: child,
        type: 'routed',
        data: { route: layout.routes.get(id) },
        animated: bad,
        className: bad ? 'edge-problem' : undefined,
        style: { stroke: colour, strokeWidth: bad ? 2.5 : 1.5 },
        markerEnd: { type: MarkerType.ArrowClosed, color: colour, width: 16, height: 16 },
      } satisfies FlowEdge<EdgeData>;
    });

  return (
    <div className="h-full w-full" data-testid={testId}>
      <ReactFlow
        nodes={flowNodes}
        edges={flowEdges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        fitView
        fitViewOptions={{ padding: 0.12, maxZoom: 1.1 }}
        minZoom={0.1}
        nodesDraggable={false}
        nodesConnectable={false}
        edgesFocusable={false}
        onNodeClick={onNodeClick ? (_, node) => onNodeClick(node.id) : undefined}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={18} size={1} color="#e2e8f0" />
        <Controls showInteractive={false} position="bottom-right" />
        <FitOnChange shape={shape} />
      </ReactFlow>
    </div>
  );
}

/** The graph in a box, panning and zooming: as tall as the laid-out graph
 *  (within limits), or the height a `className` gives. */
export function DagView(props: DagViewProps) {
  const size = props.compact ? COMPACT : REGULAR;
  const shape = JSON.stringify([props.nodes.map((n) => n.key), props.edges, props.compact]);
  // The layout depends on the shape only; statuses change without a new one.
  const layout = useMemo(
    () =>
      layoutDag(
        props.nodes.map((n) => n.key),
        props.edges,
        size,
      ),
    [shape],
  );
  const height = Math.min(560, Math.max(240, layout.height + 110));
  return (
    <div
      className={clsx('overflow-hidden rounded-lg border border-slate-200 bg-slate-50/50', props.className)}
      style={props.className?.match(/(^|\s)h-/) ? undefined : { height }}
    >
      <ReactFlowProvider>
        <DagCanvas {...props} layout={layout} shape={shape} size={size} />
      </ReactFlowProvider>
    </div>
  );
}

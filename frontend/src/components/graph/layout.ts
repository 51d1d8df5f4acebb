// Left-to-right layout of a DAG with dagre: where each node's top-left corner
// goes, and the route of each edge (dagre bends edges around nodes, and
// routes an edge that closes a cycle back around the graph). Pure, so it is
// computed once per graph shape, not per status change.
import { graphlib, layout } from '@dagrejs/dagre';
import { edgeId } from '../../lib/dag';

export interface Size {
  width: number;
  height: number;
}

export const REGULAR: Size = { width: 180, height: 60 };
export const COMPACT: Size = { width: 150, height: 52 };

export interface Point {
  x: number;
  y: number;
}

export interface Positioned extends Point {
  key: string;
}

export interface DagLayout {
  nodes: Positioned[];
  /** By edge id (`a→b`); self-edges have none. */
  routes: Map<string, Point[]>;
  height: number;
}

export function layoutDag(keys: readonly string[], edges: readonly (readonly [string, string])[], size: Size = REGULAR): DagLayout {
  const g = new graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: 20, ranksep: 52, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const known = new Set(keys);
  for (const key of keys) g.setNode(key, { width: size.width, height: size.height });
  // Edges to unknown nodes (a graph being typed) are drawn by nobody.
  for (const [parent, child] of edges) if (known.has(parent) && known.has(child) && parent !== child) g.setEdge(parent, child);
  layout(g);
  const nodes = keys.map((key) => {
    const node = g.node(key) as { x?: number; y?: number } | undefined;
    return { key, x: (node?.x ?? 0) - size.width / 2, y: (node?.y ?? 0) - size.height / 2 };
  });
  const routes = new Map<string, Point[]>();
  for (const e of g.edges()) {
    const points = (g.edge(e) as { points?: Point[] } | undefined)?.points;
    if (points?.length) routes.set(edgeId(e.v, e.w), points);
  }
  const height = (g.graph() as { height?: number }).height ?? 0;
  return { nodes, routes, height };
}

/** An SVG path through `points`, smoothed at each bend. */
export function smoothPath(points: readonly Point[]): string {
  const [first, ...rest] = points;
  if (!first) return '';
  let d = `M ${first.x},${first.y}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const p = rest[i] as Point;
    const n = rest[i + 1] as Point;
    d += ` Q ${p.x},${p.y} ${(p.x + n.x) / 2},${(p.y + n.y) / 2}`;
  }
  const last = rest[rest.length - 1];
  if (last) d += ` L ${last.x},${last.y}`;
  return d;
}

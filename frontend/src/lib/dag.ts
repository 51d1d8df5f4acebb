// Workflow graph checks, the same as the server's (shared/src/dag.rs) in the
// same order, so the page finds the same problem, and the same cycle, that a
// POST /workflows would answer with: duplicate node keys, edges naming an
// unknown node, self-edges, duplicate edges, then cycles.

export type Edge = readonly [parent: string, child: string];

export type GraphProblem =
  | { kind: 'duplicate-node'; field: 'nodes'; key: string; message: string }
  | { kind: 'unknown-node'; field: string; index: number; key: string; message: string }
  | { kind: 'self-edge'; field: string; index: number; key: string; message: string }
  | { kind: 'duplicate-edge'; field: string; index: number; message: string }
  | { kind: 'cycle'; field: 'edges'; cycle: string[]; message: string };

export type GraphCheck = { ok: true; order: string[] } | { ok: false; problem: GraphProblem };

/** Rust's `{:?}` of a plain key. */
const quote = (key: string) => JSON.stringify(key);

/** Keys sort by code unit, which for the allowed characters is byte order, as in Rust. */
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function childrenMap(edges: readonly Edge[]): Map<string, string[]> {
  const children = new Map<string, string[]>();
  for (const [parent, child] of edges) {
    const list = children.get(parent);
    if (list) list.push(child);
    else children.set(parent, [child]);
  }
  for (const list of children.values()) list.sort(byKey);
  return children;
}

/**
 * A cycle's path with its first node repeated at the end (`a, b, c, a`), or
 * null. Depth-first from each node in key order, children in key order: the
 * server's search, so both name the same cycle.
 */
export function findCycle(nodes: readonly string[], edges: readonly Edge[]): string[] | null {
  const children = childrenMap(edges);
  const mark = new Map<string, 'new' | 'on-path' | 'done'>(nodes.map((n) => [n, 'new']));
  for (const start of [...nodes].sort(byKey)) {
    if (mark.get(start) !== 'new') continue;
    const path = [start];
    const nextChild = [0];
    mark.set(start, 'on-path');
    while (path.length > 0) {
      const node = path[path.length - 1] as string;
      const i = nextChild[nextChild.length - 1] ?? 0;
      const child = children.get(node)?.[i];
      if (child === undefined) {
        mark.set(node, 'done');
        path.pop();
        nextChild.pop();
        continue;
      }
      nextChild[nextChild.length - 1] = i + 1;
      const state = mark.get(child) ?? 'done';
      if (state === 'new') {
        mark.set(child, 'on-path');
        path.push(child);
        nextChild.push(0);
      } else if (state === 'on-path') {
        return [...path.slice(path.indexOf(child)), child];
      }
    }
  }
  return null;
}

/** Parents before children, ties in key order (Kahn's algorithm); nodes on a
 *  cycle are left out. */
export function topologicalOrder(nodes: readonly string[], edges: readonly Edge[]): string[] {
  const children = childrenMap(edges);
  const indegree = new Map<string, number>(nodes.map((n) => [n, 0]));
  for (const [, child] of edges) {
    const d = indegree.get(child);
    if (d !== undefined) indegree.set(child, d + 1);
  }
  const ready = [...indegree].filter(([, d]) => d === 0).map(([n]) => n).sort(byKey);
  const order: string[] = [];
  while (ready.length > 0) {
    const node = ready.shift() as string;
    order.push(node);
    for (const child of children.get(node) ?? []) {
      const d = (indegree.get(child) ?? 0) - 1;
      indegree.set(child, d);
      if (d === 0) {
        ready.push(child);
        ready.sort(byKey);
      }
    }
  }
  return order;
}

/** Checks a graph as the server does; the first problem, or a topological order. */
export function checkGraph(nodes: readonly string[], edges: readonly Edge[]): GraphCheck {
  const known = new Set<string>();
  for (const key of nodes) {
    if (known.has(key)) return { ok: false, problem: { kind: 'duplicate-node', field: 'nodes', key, message: `node key ${quote(key)} appears twice` } };
    known.add(key);
  }
  const seen = new Set<string>();
  for (const [index, [parent, child]] of edges.entries()) {
    for (const key of [parent, child]) {
      if (!known.has(key)) {
        return { ok: false, problem: { kind: 'unknown-node', field: `edges[${index}]`, index, key, message: `edge ${index} names unknown node ${quote(key)}` } };
      }
    }
    if (parent === child) {
      return { ok: false, problem: { kind: 'self-edge', field: `edges[${index}]`, index, key: parent, message: `edge ${index} joins ${quote(parent)} to itself` } };
    }
    const id = edgeId(parent, child);
    if (seen.has(id)) {
      return {
        ok: false,
        problem: { kind: 'duplicate-edge', field: `edges[${index}]`, index, message: `edge ${index} (${quote(parent)} → ${quote(child)}) appears twice` },
      };
    }
    seen.add(id);
  }
  const cycle = findCycle(nodes, edges);
  if (cycle) return { ok: false, problem: { kind: 'cycle', field: 'edges', cycle, message: `edges form a cycle: ${cycle.join(' → ')}` } };
  return { ok: true, order: topologicalOrder(nodes, edges) };
}

/** A stable id for an edge (node keys cannot contain '→'). */
export function edgeId(parent: string, child: string): string {
  return `${parent}→${child}`;
}

/** The nodes and edge ids on a cycle path such as `a, b, c, a`. */
export function cycleParts(cycle: readonly string[]): { nodes: Set<string>; edges: Set<string> } {
  const nodes = new Set(cycle);
  const edges = new Set<string>();
  for (let i = 0; i + 1 < cycle.length; i++) edges.add(edgeId(cycle[i] as string, cycle[i + 1] as string));
  return { nodes, edges };
}

/** The cycle in a server's 409 (`error.details.cycle`), when it has one. */
export function cycleOf(details: Record<string, unknown> | null | undefined): string[] | null {
  const cycle = details?.['cycle'];
  return Array.isArray(cycle) && cycle.every((k) => typeof k === 'string') ? (cycle as string[]) : null;
}

const KEY_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A node key's problem, or null: 1-64 letters, digits, `_ . : -`. */
export function keyProblem(key: string): string | null {
  return KEY_RE.test(key) ? null : "must be 1-64 characters of letters, digits, '_', '.', ':' or '-'";
}

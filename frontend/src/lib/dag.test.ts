import { describe, expect, it } from 'vitest';
import { checkGraph, cycleOf, cycleParts, findCycle, topologicalOrder, type Edge } from './dag';

const diamond: Edge[] = [
  ['a', 'b'],
  ['a', 'c'],
  ['b', 'd'],
  ['c', 'd'],
];

describe('findCycle', () => {
  it('finds no cycle in a diamond', () => {
    expect(findCycle(['a', 'b', 'c', 'd'], diamond)).toBeNull();
  });

  it('returns the path with its first node repeated at the end', () => {
    expect(findCycle(['a', 'b', 'c'], [['a', 'b'], ['b', 'c'], ['c', 'a']])).toEqual(['a', 'b', 'c', 'a']);
  });

  it('names the cycle the server names: search from keys in order, children in order', () => {
    // d → e → d is reached from "a" before the search starts at "d"; the
    // path starts where the cycle is entered.
    const edges: Edge[] = [['a', 'e'], ['e', 'd'], ['d', 'e'], ['x', 'y'], ['y', 'x']];
    expect(findCycle(['x', 'y', 'd', 'e', 'a'], edges)).toEqual(['e', 'd', 'e']);
  });

  it('finds a cycle hanging off an acyclic part', () => {
    const edges: Edge[] = [...diamond, ['d', 'e'], ['e', 'f'], ['f', 'd']];
    expect(findCycle(['a', 'b', 'c', 'd', 'e', 'f'], edges)).toEqual(['d', 'e', 'f', 'd']);
  });
});

describe('checkGraph', () => {
  it('orders parents before children, ties by key', () => {
    expect(checkGraph(['d', 'c', 'b', 'a'], diamond)).toEqual({ ok: true, order: ['a', 'b', 'c', 'd'] });
  });

  it('reports problems in the server’s order and with its field names', () => {
    expect(checkGraph(['a', 'a'], [['a', 'b']])).toMatchObject({ ok: false, problem: { kind: 'duplicate-node', field: 'nodes' } });
    expect(checkGraph(['a', 'b'], [['a', 'b'], ['b', 'zz']])).toMatchObject({
      ok: false,
      problem: { kind: 'unknown-node', field: 'edges[1]', key: 'zz', message: 'edge 1 names unknown node "zz"' },
    });
    expect(checkGraph(['a'], [['a', 'a']])).toMatchObject({ ok: false, problem: { kind: 'self-edge', field: 'edges[0]' } });
    expect(checkGraph(['a', 'b'], [['a', 'b'], ['a', 'b']])).toMatchObject({
      ok: false,
      problem: { kind: 'duplicate-edge', field: 'edges[1]', message: 'edge 1 ("a" → "b") appears twice' },
    });
  });

  it('reports a cycle with its path, as the server’s 409 does', () => {
    const result = checkGraph(['a', 'b', 'c'], [['a', 'b'], ['b', 'c'], ['c', 'a']]);
    expect(result).toEqual({
      ok: false,
      problem: { kind: 'cycle', field: 'edges', cycle: ['a', 'b', 'c', 'a'], message: 'edges form a cycle: a → b → c → a' },
    });
  });
});

describe('topologicalOrder', () => {
  it('leaves out the nodes on a cycle', () => {
    expect(topologicalOrder(['a', 'b', 'c'], [['b', 'c'], ['c', 'b']])).toEqual(['a']);
  });
});

describe('cycleParts and cycleOf', () => {
  it('splits a path into its nodes and edges', () => {
    const parts = cycleParts(['a', 'b', 'a']);
    expect([...parts.nodes]).toEqual(['a', 'b']);
    expect([...parts.edges]).toEqual(['a→b', 'b→a']);
  });

  it('reads the cycle from a 409’s details and nothing else', () => {
    expect(cycleOf({ field: 'edges', cycle: ['a', 'b', 'a'] })).toEqual(['a', 'b', 'a']);
    expect(cycleOf({ field: 'name' })).toBeNull();
    expect(cycleOf(null)).toBeNull();
  });
});

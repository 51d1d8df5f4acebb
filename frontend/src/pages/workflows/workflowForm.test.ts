import { describe, expect, it } from 'vitest';
import type { RunDetail } from '../../api/types';
import { emptyTemplate } from '../../forms/template';
import { runGraph } from './runGraph';
import { formatSpec, formFromSpec, locate, newNode, parseWorkflowJson, removeNode, renameNode, validateWorkflowForm, type WorkflowForm } from './workflowForm';

function diamondForm(): WorkflowForm {
  return {
    name: 'diamond',
    description: '',
    nodes: ['a', 'b', 'c', 'd'].map((key) => newNode(key, emptyTemplate({ kind: 'noop' }))),
    edges: [
      ['a', 'b'],
      ['a', 'c'],
      ['b', 'd'],
      ['c', 'd'],
    ],
  };
}

describe('validateWorkflowForm', () => {
  it('builds the POST /workflows body', () => {
    const { errors, spec, graph } = validateWorkflowForm(diamondForm());
    expect(errors).toEqual({});
    expect(graph).toEqual({ ok: true, order: ['a', 'b', 'c', 'd'] });
    expect(spec).toEqual({
      name: 'diamond',
      nodes: ['a', 'b', 'c', 'd'].map((key) => ({ key, job: { kind: 'noop' } })),
      edges: [['a', 'b'], ['a', 'c'], ['b', 'd'], ['c', 'd']],
    });
  });

  it('names bad keys and templates by node index, as the server does', () => {
    const form = diamondForm();
    form.nodes[1] = { ...form.nodes[1]!, key: 'has space' };
    form.nodes[2] = { ...form.nodes[2]!, template: emptyTemplate({ kind: 'shell', argv: [''] }) };
    const { errors, spec } = validateWorkflowForm(form);
    expect(errors['nodes[1].key']).toMatch(/letters, digits/);
    expect(errors['nodes[2].job.payload.argv']).toMatch(/non-empty array/);
    expect(spec).toBeNull();
  });

  it('lets a cycle through to the server, but reports it', () => {
    const form = diamondForm();
    form.edges.push(['d', 'a']);
    const { errors, spec, graph } = validateWorkflowForm(form);
    expect(errors).toEqual({});
    expect(spec).not.toBeNull();
    expect(graph).toMatchObject({ ok: false, problem: { kind: 'cycle', cycle: ['a', 'b', 'd', 'a'] } });
  });
});

describe('editing nodes', () => {
  it('renames a node in its edges and removes a node with its edges', () => {
    const form = diamondForm();
    const renamed = renameNode(form, form.nodes[0]!.id, 'start');
    expect(renamed.edges.slice(0, 2)).toEqual([['start', 'b'], ['start', 'c']]);
    const removed = removeNode(renamed, form.nodes[3]!.id);
    expect(removed.nodes.map((n) => n.key)).toEqual(['start', 'b', 'c']);
    expect(removed.edges).toEqual([['start', 'b'], ['start', 'c']]);
  });
});

describe('the JSON editor', () => {
  it('round-trips a body through the form', () => {
    const text = formatSpec(validateWorkflowForm(diamondForm()).spec!);
    expect(text).toContain('["a", "b"]');
    const parsed = parseWorkflowJson(text);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(validateWorkflowForm(formFromSpec(parsed.spec)).spec).toEqual(parsed.spec);
  });

  it('says where the JSON is not a body', () => {
    expect(parseWorkflowJson('{')).toMatchObject({ ok: false, error: expect.stringMatching(/not valid JSON/) });
    expect(parseWorkflowJson('{"name": "x", "nodes": [{"key": "a"}]}')).toEqual({ ok: false, error: 'nodes[0]: must be {"key": "<key>", "job": {…}}' });
    expect(parseWorkflowJson('{"name": "x", "nodes": [], "edges": [["a"]]}')).toEqual({ ok: false, error: 'edges[0]: must be a [parent, child] pair of node keys' });
  });

  it('locates a server field on a node, an edge or the body', () => {
    expect(locate('nodes[2].job.payload.url')).toEqual({ node: 2, rest: 'job.payload.url' });
    expect(locate('edges[3]')).toEqual({ edge: 3 });
    expect(locate('name')).toEqual({ top: 'name' });
  });
});

describe('runGraph', () => {
  it('colours each node by its job and draws the edges from the parents', () => {
    const job = (status: string) => ({ kind: 'noop', payload: {}, status, attempt: 1, attempt_base: 0, max_attempts: 3 });
    const run = {
      id: 'r',
      nodes: [
        { key: 'a', parents: [], children: ['b'], job: job('succeeded') },
        { key: 'b', parents: ['a'], children: [], job: job('running') },
      ],
    } as unknown as RunDetail;
    const graph = runGraph(run);
    expect(graph.nodes.map((n) => [n.key, n.status])).toEqual([
      ['a', 'succeeded'],
      ['b', 'running'],
    ]);
    expect(graph.edges).toEqual([['a', 'b']]);
  });
});

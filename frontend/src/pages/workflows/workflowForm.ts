// The workflow editor's state, its checks and the POST /workflows body it
// makes, in form mode (nodes with job templates, edges by picking parent and
// child) and JSON mode (the body itself). Errors use the server's field names
// (`name`, `nodes[1].key`, `nodes[0].job.payload.argv`, `edges[2]`).

import type { JobSpec, NodeSpec, WorkflowDetail, WorkflowSpec } from '../../api/types';
import type { FieldErrors } from '../../forms/jobForm';
import { compactSpec, emptyTemplate, errorsWithPrefix, templateFromSpec, validateTemplate, type TemplateForm } from '../../forms/template';
import { checkGraph, keyProblem, type Edge, type GraphCheck } from '../../lib/dag';

export interface NodeDraft {
  /** A stable id for React while the key is being typed. */
  id: number;
  key: string;
  template: TemplateForm;
}

export interface WorkflowForm {
  name: string;
  description: string;
  nodes: NodeDraft[];
  edges: [string, string][];
}

let nextId = 1;
export const newNode = (key: string, template: TemplateForm = emptyTemplate()): NodeDraft => ({ id: nextId++, key, template });

export function emptyWorkflowForm(): WorkflowForm {
  return { name: '', description: '', nodes: [newNode('first')], edges: [] };
}

/** A key for a new node that no node has yet: node-2, node-3, … */
export function freshKey(form: WorkflowForm): string {
  const taken = new Set(form.nodes.map((n) => n.key));
  for (let i = form.nodes.length + 1; ; i++) if (!taken.has(`node-${i}`)) return `node-${i}`;
}

/** Renames a node and the edges that name it. */
export function renameNode(form: WorkflowForm, id: number, key: string): WorkflowForm {
  const old = form.nodes.find((n) => n.id === id)?.key;
  const stillUsed = form.nodes.some((n) => n.id !== id && n.key === old);
  return {
    ...form,
    nodes: form.nodes.map((n) => (n.id === id ? { ...n, key } : n)),
    edges: old === undefined || stillUsed ? form.edges : form.edges.map(([p, c]) => [p === old ? key : p, c === old ? key : c]),
  };
}

/** Removes a node and its edges. */
export function removeNode(form: WorkflowForm, id: number): WorkflowForm {
  const key = form.nodes.find((n) => n.id === id)?.key;
  const stillUsed = form.nodes.some((n) => n.id !== id && n.key === key);
  return {
    ...form,
    nodes: form.nodes.filter((n) => n.id !== id),
    edges: stillUsed ? form.edges : form.edges.filter(([p, c]) => p !== key && c !== key),
  };
}

export interface WorkflowCheck {
  /** Field errors that stop a submit (name, keys, templates). */
  errors: FieldErrors;
  /** The graph's shape: a problem (a cycle, …) is shown on the graph but
   *  does not stop a submit, so the server's answer is always seen. */
  graph: GraphCheck;
  /** The body to POST, when there are no field errors. */
  spec: WorkflowSpec | null;
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

export function validateWorkflowForm(form: WorkflowForm): WorkflowCheck {
  const errors: FieldErrors = {};
  if (!form.name.trim() || byteLength(form.name) > 200) errors['name'] = 'must be 1-200 characters';
  if (form.nodes.length === 0) errors['nodes'] = 'a workflow needs at least one node';
  const nodes: NodeSpec[] = [];
  form.nodes.forEach((node, i) => {
    const problem = keyProblem(node.key);
    if (problem) errors[`nodes[${i}].key`] = problem;
    const template = validateTemplate(node.template);
    Object.assign(errors, errorsWithPrefix(template.errors, `nodes[${i}].job.`));
    if (template.spec) nodes.push({ key: node.key, job: template.spec });
  });
  const graph = checkGraph(
    form.nodes.map((n) => n.key),
    form.edges,
  );
  if (Object.keys(errors).length) return { errors, graph, spec: null };
  const spec: WorkflowSpec = { name: form.name, nodes, edges: form.edges.map(([p, c]) => [p, c]) };
  if (form.description.trim()) spec.description = form.description.trim();
  return { errors, graph, spec };
}

/**
 * The body as far as the form can make it, for the JSON editor: a node whose
 * template has errors keeps the fields that are set.
 */
export function looseSpec(form: WorkflowForm): WorkflowSpec {
  const spec: WorkflowSpec = {
    name: form.name,
    nodes: form.nodes.map((node) => ({ key: node.key, job: validateTemplate(node.template).spec ?? looseTemplate(node.template) })),
    edges: form.edges.map(([p, c]) => [p, c]),
  };
  if (form.description.trim()) spec.description = form.description.trim();
  return spec;
}

function looseTemplate(template: TemplateForm): JobSpec {
  if (template.source === 'definition') return { definition: template.definition };
  const job = template.job;
  return { kind: job.kind === 'custom' ? job.customKind : job.kind };
}

/** The form holding a body (from the JSON editor, or a workflow to copy). */
export function formFromSpec(spec: WorkflowSpec): WorkflowForm {
  return {
    name: spec.name,
    description: spec.description ?? '',
    nodes: spec.nodes.map((n) => newNode(n.key, templateFromSpec(n.job))),
    edges: (spec.edges ?? []).map(([p, c]) => [p ?? '', c ?? ''] as [string, string]),
  };
}

/** A stored workflow as a body, to start a copy from. */
export function specFromDetail(detail: WorkflowDetail, name: string): WorkflowSpec {
  const spec: WorkflowSpec = {
    name,
    nodes: detail.nodes.map((n) => ({ key: n.key, job: compactSpec(n.template) })),
    edges: detail.edges.map((e) => [e[0] ?? '', e[1] ?? ''] as [string, string]),
  };
  if (detail.description) spec.description = detail.description;
  return spec;
}

export type ParsedJson = { ok: true; spec: WorkflowSpec } | { ok: false; error: string };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads the JSON editor: valid JSON with the shape of the body (the fields'
 *  values are the server's to judge). */
export function parseWorkflowJson(text: string): ParsedJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (!isObject(value)) return { ok: false, error: 'the body must be a JSON object: {"name", "nodes", "edges"}' };
  if (typeof value['name'] !== 'string') return { ok: false, error: 'name: must be a string' };
  if (!Array.isArray(value['nodes'])) return { ok: false, error: 'nodes: must be an array of {"key", "job"}' };
  for (const [i, node] of (value['nodes'] as unknown[]).entries()) {
    if (!isObject(node) || typeof node['key'] !== 'string' || !isObject(node['job'])) {
      return { ok: false, error: `nodes[${i}]: must be {"key": "<key>", "job": {…}}` };
    }
  }
  const edges = value['edges'] ?? [];
  if (!Array.isArray(edges)) return { ok: false, error: 'edges: must be an array of [parent, child] pairs' };
  for (const [i, edge] of (edges as unknown[]).entries()) {
    if (!Array.isArray(edge) || edge.length !== 2 || !edge.every((k) => typeof k === 'string')) {
      return { ok: false, error: `edges[${i}]: must be a [parent, child] pair of node keys` };
    }
  }
  return { ok: true, spec: value as unknown as WorkflowSpec };
}

/** The graph of a body: its keys and edges (for drawing and checking). */
export function graphOf(spec: Pick<WorkflowSpec, 'nodes' | 'edges'>): { keys: string[]; edges: Edge[] } {
  return { keys: spec.nodes.map((n) => n.key), edges: (spec.edges ?? []).map(([p, c]) => [p ?? '', c ?? ''] as const) };
}

/** Where a server field points: a node (by index), an edge, or a top-level field. */
export function locate(field: string): { node: number; rest: string } | { edge: number } | { top: string } {
  const node = /^nodes\[(\d+)\]\.?(.*)$/.exec(field);
  if (node) return { node: Number(node[1]), rest: node[2] ?? '' };
  const edge = /^edges\[(\d+)\]/.exec(field);
  if (edge) return { edge: Number(edge[1]) };
  return { top: field };
}

/** The body as the JSON editor shows it: indented, each edge on one line. */
export function formatSpec(spec: WorkflowSpec): string {
  return JSON.stringify(spec, null, 2).replace(/\[\s*("(?:[^"\\]|\\.)*"),\s*("(?:[^"\\]|\\.)*")\s*\]/g, '[$1, $2]');
}

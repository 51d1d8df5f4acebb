// A job template as a form: the fields of a job (as in New job), or a
// definition's name with a few overrides. Schedules (target.job), workflow
// nodes (nodes[i].job) and definitions (template) are all made of one.

import type { JobSpec } from '../api/types';
import { emptyForm, formFromSpec, validateJobForm, type FieldErrors, type JobForm } from './jobForm';

export type TemplateSource = 'fields' | 'definition';

export interface Overrides {
  name: string;
  queue: string;
  priority: string;
  maxAttempts: string;
  timeoutSecs: string;
  /** A JSON object merged into the definition's payload, key by key. */
  payload: string;
}

export interface TemplateForm {
  source: TemplateSource;
  job: JobForm;
  definition: string;
  overrides: Overrides;
  /** Fields of an edited template this form does not show (backoff with a
   *  definition, say): sent back as they were. */
  extra: Record<string, unknown>;
}

const QUEUE_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

export const emptyOverrides = (): Overrides => ({ name: '', queue: '', priority: '', maxAttempts: '', timeoutSecs: '', payload: '' });

export function emptyTemplate(job: Partial<JobForm> = {}): TemplateForm {
  return { source: 'fields', job: { ...emptyForm(), ...job }, definition: '', overrides: emptyOverrides(), extra: {} };
}

function int(raw: string, min: number, max: number): number | null | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

/**
 * Checks a template and builds its JobSpec (null when there are errors).
 * Errors are named as the server names them inside the template
 * (`payload.argv`, `priority`, `definition`), so a parent form only adds its
 * prefix (`target.job.`, `nodes[2].job.`, `template.`).
 */
export function validateTemplate(form: TemplateForm): { errors: FieldErrors; spec: JobSpec | null } {
  if (form.source === 'fields') {
    // A template has no time or idempotency key of its own.
    return validateJobForm({ ...form.job, when: 'now', idempotencyKey: '' });
  }
  const errors: FieldErrors = {};
  const spec: JobSpec = { ...(form.extra as JobSpec), definition: form.definition.trim() };
  if (!spec.definition) errors['definition'] = 'pick a definition';
  const o = form.overrides;
  if (o.name !== '') {
    if (new TextEncoder().encode(o.name).length > 200) errors['name'] = 'must be 1-200 characters';
    else spec.name = o.name;
  }
  const queue = o.queue.trim();
  if (queue) {
    if (!QUEUE_RE.test(queue)) errors['queue'] = "must be 1-64 characters of letters, digits, '_', '.', ':' or '-'";
    else spec.queue = queue;
  }
  const priority = int(o.priority, 0, 9);
  if (priority === null) errors['priority'] = 'must be an integer from 0 to 9';
  else if (priority !== undefined) spec.priority = priority;
  const attempts = int(o.maxAttempts, 1, 1000);
  if (attempts === null) errors['max_attempts'] = 'must be an integer from 1 to 1000';
  else if (attempts !== undefined) spec.max_attempts = attempts;
  const timeout = int(o.timeoutSecs, 1, 604_800);
  if (timeout === null) errors['timeout_secs'] = 'must be an integer from 1 to 604800';
  else if (timeout !== undefined) spec.timeout_secs = timeout;
  if (o.payload.trim()) {
    try {
      const value: unknown = JSON.parse(o.payload);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) errors['payload'] = 'must be a JSON object';
      else spec.payload = value as Record<string, unknown>;
    } catch (e) {
      errors['payload'] = `is not valid JSON (${e instanceof Error ? e.message : 'parse error'})`;
    }
  }
  return Object.keys(errors).length ? { errors, spec: null } : { errors, spec };
}

/** A template form pre-filled from a stored template (to edit or copy it). */
export function templateFromSpec(spec: JobSpec): TemplateForm {
  if (!spec.definition) return { ...emptyTemplate(), job: formFromSpec(spec) };
  const { definition, name, queue, priority, max_attempts, timeout_secs, payload, ...extra } = spec;
  const text = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  return {
    source: 'definition',
    job: emptyForm(),
    definition,
    overrides: {
      name: text(name),
      queue: text(queue),
      priority: text(priority),
      maxAttempts: text(max_attempts),
      timeoutSecs: text(timeout_secs),
      payload: payload ? JSON.stringify(payload, null, 2) : '',
    },
    extra: Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined && v !== null)),
  };
}

/** The errors under `prefix` (`target.job.`), renamed without it. */
export function errorsWithin(errors: FieldErrors, prefix: string): FieldErrors {
  const out: FieldErrors = {};
  for (const [field, message] of Object.entries(errors)) {
    if (field.startsWith(prefix)) out[field.slice(prefix.length)] = message;
  }
  return out;
}

/** The errors renamed with `prefix`. */
export function errorsWithPrefix(errors: FieldErrors, prefix: string): FieldErrors {
  return Object.fromEntries(Object.entries(errors).map(([field, message]) => [prefix + field, message]));
}

/** One line saying what a template runs: "shell: sh -c …", "definition thumbnail". */
export function describeTemplate(spec: JobSpec): string {
  if (spec.definition) return `definition ${spec.definition}`;
  const p: Record<string, unknown> = spec.payload ?? {};
  switch (spec.kind) {
    case 'shell':
      return Array.isArray(p['argv']) ? (p['argv'] as unknown[]).map(String).join(' ') : 'shell';
    case 'http':
      return `${typeof p['method'] === 'string' ? p['method'].toUpperCase() : 'GET'} ${String(p['url'] ?? '')}`;
    case 'sleep':
      return `sleep ${String(p['ms'] ?? '?')} ms`;
    case 'noop':
      return 'no-op';
    default:
      return spec.kind ?? 'job';
  }
}

/** A stored template without its unset (null) fields, to show. */
export function compactSpec(spec: JobSpec): JobSpec {
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== null && v !== undefined)) as JobSpec;
}

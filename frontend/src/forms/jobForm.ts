// The New job form's state, and its validation: the same rules as the
// server's JobSpec::validate (shared/src/model/spec.rs), reported under the
// same field names (`priority`, `backoff.max_ms`, `payload.argv`), so that a
// client-side error and a server 422 land next to the same input.

import type { Job, JobSpec } from '../api/types';
import { browserZone, isTimeZone } from '../lib/zones';
import { cronProblem } from './cron';

export const BUILTIN_KIND_NAMES = ['noop', 'sleep', 'shell', 'http'] as const;
export type BuiltinKind = (typeof BUILTIN_KIND_NAMES)[number];
export type When = 'now' | 'at' | 'delay' | 'cron';
export type DelayUnit = 'ms' | 's' | 'm' | 'h';
export type BodyMode = 'none' | 'json' | 'text';

export interface Pair {
  key: string;
  value: string;
}

/** Everything the form holds, as typed (numbers are strings until validated). */
export interface JobForm {
  kind: BuiltinKind | 'custom';
  customKind: string;
  queue: string;
  name: string;
  priority: string;
  maxAttempts: string;
  backoffBase: string;
  backoffMax: string;
  timeoutSecs: string;
  idempotencyKey: string;
  when: When;
  /** A `datetime-local` value, in the browser's time zone. */
  runAt: string;
  delay: string;
  delayUnit: DelayUnit;
  /** when = 'cron': the job becomes a schedule's template. */
  cron: string;
  timezone: string;
  // sleep
  ms: string;
  // shell
  argv: string[];
  env: Pair[];
  cwd: string;
  // http
  method: string;
  url: string;
  headers: Pair[];
  bodyMode: BodyMode;
  body: string;
  // custom kinds: the payload as JSON text
  payload: string;
}

export type FieldErrors = Partial<Record<string, string>>;

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
const UNIT_MS: Record<DelayUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DAY_MS = 86_400_000;
const YEAR_MS = 31_536_000_000;
const QUEUE_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

export function emptyForm(): JobForm {
  return {
    kind: 'shell',
    customKind: '',
    queue: 'default',
    name: '',
    priority: '5',
    maxAttempts: '3',
    backoffBase: '',
    backoffMax: '',
    timeoutSecs: '',
    idempotencyKey: '',
    when: 'now',
    runAt: '',
    delay: '',
    delayUnit: 's',
    cron: '',
    timezone: browserZone(),
    ms: '1000',
    argv: [''],
    env: [],
    cwd: '',
    method: 'GET',
    url: '',
    headers: [],
    bodyMode: 'none',
    body: '',
    payload: '{}',
  };
}

/** Length in UTF-8 bytes, as Rust's `str::len` counts. */
function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** An integer in [min, max], or an error message. Empty input is `undefined`. */
function integer(raw: string, min: number, max: number, message: string): { value?: number; error?: string } {
  const text = raw.trim();
  if (text === '') return {};
  if (!/^-?\d+$/.test(text)) return { error: message };
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) return { error: message };
  return { value };
}

function pairsToObject(pairs: Pair[], field: string, errors: FieldErrors): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of pairs) {
    const k = key.trim();
    if (!k && !value) continue;
    if (!k) {
      errors[field] ??= 'every value needs a name';
      continue;
    }
    if (k in out) errors[field] ??= `${k} is given twice`;
    out[k] = value;
  }
  return out;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '';
  } catch {
    return false;
  }
}

function payloadFor(form: JobForm, errors: FieldErrors): Record<string, unknown> | undefined {
  switch (form.kind) {
    case 'noop':
      return undefined;
    case 'sleep': {
      const ms = integer(form.ms, 0, DAY_MS, 'sleep needs ms, an integer from 0 to 86400000');
      if (ms.error || ms.value === undefined) {
        errors['payload.ms'] = ms.error ?? 'sleep needs ms, an integer from 0 to 86400000';
        return undefined;
      }
      return { ms: ms.value };
    }
    case 'shell': {
      // Trailing empty rows are unused slots; an empty row between others is
      // a real (empty) argument.
      const argv = [...form.argv];
      while (argv.length && argv[argv.length - 1] === '') argv.pop();
      if (argv.length === 0) errors['payload.argv'] = 'shell needs argv, a non-empty array of strings';
      const env = pairsToObject(form.env, 'payload.env', errors);
      const payload: Record<string, unknown> = { argv };
      if (Object.keys(env).length) payload['env'] = env;
      if (form.cwd.trim()) payload['cwd'] = form.cwd.trim();
      return payload;
    }
    case 'http': {
      const url = form.url.trim();
      if (!isHttpUrl(url)) errors['payload.url'] = 'http needs url, an absolute http(s) URL';
      const method = form.method.toUpperCase();
      if (!(HTTP_METHODS as readonly string[]).includes(method)) {
        errors['payload.method'] = 'must be GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS';
      }
      const headers = pairsToObject(form.headers, 'payload.headers', errors);
      const payload: Record<string, unknown> = { url, method };
      if (Object.keys(headers).length) payload['headers'] = headers;
      if (form.bodyMode === 'text') payload['body'] = form.body;
      if (form.bodyMode === 'json') {
        try {
          payload['body'] = JSON.parse(form.body) as unknown;
        } catch {
          errors['payload.body'] = 'is not valid JSON';
        }
      }
      return payload;
    }
    case 'custom': {
      let value: unknown;
      try {
        value = JSON.parse(form.payload.trim() || '{}');
      } catch (e) {
        errors['payload'] = `is not valid JSON (${e instanceof Error ? e.message : 'parse error'})`;
        return undefined;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        errors['payload'] = 'must be a JSON object';
        return undefined;
      }
      return value as Record<string, unknown>;
    }
  }
}

/**
 * Checks the form and builds the JobSpec to submit. `spec` is null when there
 * are errors. Only fields the user set are sent, so the server's defaults
 * apply to the rest (and an idempotent resubmission hashes the same).
 */
export function validateJobForm(form: JobForm): { errors: FieldErrors; spec: JobSpec | null } {
  const errors: FieldErrors = {};
  const kind = form.kind === 'custom' ? form.customKind.trim() : form.kind;
  if (!kind) errors['kind'] = 'name the kind a worker has registered';
  const spec: JobSpec = { kind };

  const queue = form.queue.trim();
  if (queue && !QUEUE_RE.test(queue)) errors['queue'] = "must be 1-64 characters of letters, digits, '_', '.', ':' or '-'";
  if (queue && queue !== 'default') spec.queue = queue;

  if (form.name !== '') {
    if (byteLength(form.name) > 200) errors['name'] = 'must be 1-200 characters';
    else spec.name = form.name;
  }

  const payload = payloadFor(form, errors);
  if (payload !== undefined) spec.payload = payload;

  const priority = integer(form.priority, 0, 9, 'must be an integer from 0 to 9');
  if (priority.error) errors['priority'] = priority.error;
  else if (priority.value !== undefined && priority.value !== 5) spec.priority = priority.value;

  const attempts = integer(form.maxAttempts, 1, 1000, 'must be an integer from 1 to 1000');
  if (attempts.error) errors['max_attempts'] = attempts.error;
  else if (attempts.value !== undefined && attempts.value !== 3) spec.max_attempts = attempts.value;

  const base = integer(form.backoffBase, 0, DAY_MS, 'must be 0 to 86400000');
  const max = integer(form.backoffMax, 0, DAY_MS, 'must be 0 to 86400000');
  if (base.error) errors['backoff.base_ms'] = base.error;
  if (max.error) errors['backoff.max_ms'] = max.error;
  else if (max.value !== undefined && max.value < (base.value ?? 1000)) errors['backoff.max_ms'] = 'must be at least backoff.base_ms';
  if (base.value !== undefined || max.value !== undefined) {
    spec.backoff = {
      ...(base.value !== undefined ? { base_ms: base.value } : {}),
      ...(max.value !== undefined ? { max_ms: max.value } : {}),
    };
  }

  const timeout = integer(form.timeoutSecs, 1, 604_800, 'must be an integer from 1 to 604800');
  if (timeout.error) errors['timeout_secs'] = timeout.error;
  else if (timeout.value !== undefined) spec.timeout_secs = timeout.value;

  if (form.when === 'at') {
    const at = form.runAt ? new Date(form.runAt) : null;
    if (!at || Number.isNaN(at.getTime())) errors['run_at'] = 'pick a date and time';
    else spec.run_at = at.toISOString();
  } else if (form.when === 'delay') {
    const raw = form.delay.trim();
    const amount = Number(raw);
    const ms = Math.round(amount * UNIT_MS[form.delayUnit]);
    if (raw === '' || !Number.isFinite(amount) || amount < 0 || ms > YEAR_MS) {
      errors['delay_ms'] = 'must be from 0 to one year';
    } else spec.delay_ms = ms;
  } else if (form.when === 'cron') {
    // The job becomes the template of a schedule named after it.
    const problem = cronProblem(form.cron);
    if (problem) errors['cron'] = problem;
    if (!isTimeZone(form.timezone.trim())) errors['timezone'] = `unknown time zone "${form.timezone.trim()}": expected an IANA name such as Europe/Berlin or UTC`;
    if (!form.name.trim()) errors['name'] = 'a repeating job needs a name: its schedule is called so';
    if (form.idempotencyKey !== '') errors['idempotency_key'] = 'is not allowed in a schedule’s job: each fire creates one job already';
  }

  const key = form.idempotencyKey;
  if (key !== '' && form.when !== 'cron') {
    if (byteLength(key) > 200) errors['idempotency_key'] = 'must be 1-200 characters';
    else spec.idempotency_key = key;
  }

  return Object.keys(errors).length ? { errors, spec: null } : { errors, spec };
}

/** The message of a server error without its `field: ` prefix. */
export function fieldMessage(field: string, message: string): string {
  return message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
}

function asPairs(value: unknown): Pair[] {
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).map(([key, v]) => ({ key, value: String(v) }));
}

/** A form pre-filled from an existing job ("Clone"). */
export function formFromJob(job: Job): JobForm {
  return formFromSpec({
    kind: job.kind,
    queue: job.queue,
    name: job.name === job.kind ? null : job.name,
    priority: job.priority,
    max_attempts: job.max_attempts,
    backoff: {
      base_ms: job.backoff.base_ms === 1000 ? null : job.backoff.base_ms,
      max_ms: job.backoff.max_ms === 3_600_000 ? null : job.backoff.max_ms,
    },
    timeout_secs: job.timeout_secs ?? null,
    payload: job.payload,
  });
}

/** A form pre-filled from a spec or template (fields left out stay empty or default). */
export function formFromSpec(spec: JobSpec): JobForm {
  const form = emptyForm();
  const kind = spec.kind ?? '';
  const builtin = BUILTIN_KIND_NAMES.find((k) => k === kind);
  form.kind = builtin ?? 'custom';
  form.customKind = builtin ? '' : kind;
  if (spec.queue) form.queue = spec.queue;
  form.name = spec.name ?? '';
  if (spec.priority !== undefined && spec.priority !== null) form.priority = String(spec.priority);
  if (spec.max_attempts !== undefined && spec.max_attempts !== null) form.maxAttempts = String(spec.max_attempts);
  form.backoffBase = spec.backoff?.base_ms === undefined || spec.backoff.base_ms === null ? '' : String(spec.backoff.base_ms);
  form.backoffMax = spec.backoff?.max_ms === undefined || spec.backoff.max_ms === null ? '' : String(spec.backoff.max_ms);
  form.timeoutSecs = spec.timeout_secs ? String(spec.timeout_secs) : '';
  const p: Record<string, unknown> = spec.payload ?? {};
  if (form.kind === 'sleep') form.ms = String(p['ms'] ?? '');
  if (form.kind === 'shell') {
    form.argv = Array.isArray(p['argv']) && p['argv'].length ? (p['argv'] as unknown[]).map(String) : [''];
    form.env = asPairs(p['env']);
    form.cwd = typeof p['cwd'] === 'string' ? p['cwd'] : '';
  }
  if (form.kind === 'http') {
    form.url = typeof p['url'] === 'string' ? p['url'] : '';
    form.method = typeof p['method'] === 'string' ? p['method'].toUpperCase() : 'GET';
    form.headers = asPairs(p['headers']);
    if (typeof p['body'] === 'string') {
      form.bodyMode = 'text';
      form.body = p['body'];
    } else if (p['body'] !== undefined) {
      form.bodyMode = 'json';
      form.body = JSON.stringify(p['body'], null, 2);
    }
  }
  if (form.kind === 'custom') form.payload = JSON.stringify(p, null, 2);
  return form;
}

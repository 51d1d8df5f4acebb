// A small fetch wrapper: JSON in, JSON out, and every failure turned into an
// ApiError carrying the server's {"error": {code, message, details}} body.

export const API_BASE = '/api/v1';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown> | null;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> | null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** The field a 422 (or 409) names, e.g. `payload.argv` or `backoff.max_ms`. */
  get field(): string | undefined {
    const field = this.details?.['field'];
    return typeof field === 'string' ? field : undefined;
  }

  /** The server has no such route: the feature is not deployed there yet. */
  get isMissingRoute(): boolean {
    return this.code === 'no_route' || this.code === 'method_not_allowed';
  }
}

/** True when `error` says the server lacks the endpoint (an older api). */
export function isUnavailable(error: unknown): boolean {
  return error instanceof ApiError && error.isMissingRoute;
}

async function toApiError(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy error page or an empty body.
  }
  const err = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (err && typeof err.message === 'string') {
    const details = err.details && typeof err.details === 'object' ? (err.details as Record<string, unknown>) : null;
    return new ApiError(response.status, String(err.code ?? 'error'), err.message, details);
  }
  return new ApiError(response.status, 'http_error', `${response.status} ${response.statusText || 'error'}`, null);
}

export interface RequestOptions {
  signal?: AbortSignal | undefined;
}

export async function request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers: body === undefined ? { Accept: 'application/json' } : { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: options.signal ?? null,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Cannot reach the Conveyor api', null);
  }
  if (!response.ok) throw await toApiError(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options);
export const post = <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('POST', path, body ?? {}, options);
export const put = <T>(path: string, body: unknown, options?: RequestOptions) => request<T>('PUT', path, body, options);
export const patch = <T>(path: string, body: unknown, options?: RequestOptions) => request<T>('PATCH', path, body, options);
export const del = (path: string, options?: RequestOptions) => request<void>('DELETE', path, undefined, options);

/** `?a=1&b=2` from the defined, non-empty values. */
export function queryString(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

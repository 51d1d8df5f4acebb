// A small fetch wrapper: JSON in, JSON out, and every failure turned into an
// ApiError carrying the server's {"error": {code, message, details}} body.

export const API_BASE = '/api/v1';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown> | null;
  /** The server's own message, when the page shows another (a 403). */
  serverMessage: string | undefined = undefined;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> | null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** This error with `message` for the page; the server's is kept in `serverMessage`. */
  withMessage(message: string): ApiError {
    const copy = new ApiError(this.status, this.code, message, this.details);
    copy.serverMessage = this.message;
    return copy;
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

/** What a 403 says in the page: the scope of the signed-in token, when known. */
export function forbiddenMessage(scope: string | null | undefined): string {
  return scope ? `Your token's scope (${scope}) does not allow this` : "Your token's scope does not allow this";
}

/**
 * How the app learns about the session from any call: installed once by
 * src/auth/session.ts (against the QueryClient), so that no page handles a 401
 * or a 403 by itself.
 */
export interface AuthHooks {
  /** A call other than /session answered 401: the session is gone (revoked, expired, signed out elsewhere). */
  onUnauthorized: (error: ApiError) => void;
  /** The scope of the signed-in token, for the 403 message. */
  scope: () => string | null | undefined;
}

let authHooks: AuthHooks | null = null;

/** Installs (or, with null, removes) the app's handling of 401 and 403. */
export function setAuthHooks(hooks: AuthHooks | null): void {
  authHooks = hooks;
}

/** `/session` answers 401 by design (not signed in, wrong token): the
 *  session query and the sign-in page handle those themselves. */
const isSessionPath = (path: string) => path === '/session' || path.startsWith('/session?');

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
  if (!response.ok) {
    const error = await toApiError(response);
    if (error.status === 401 && !isSessionPath(path)) authHooks?.onUnauthorized(error);
    if (error.status === 403) {
      // The server names the scope it saw (details.scope); else the session's.
      const held = error.details?.['scope'];
      throw error.withMessage(forbiddenMessage(typeof held === 'string' ? held : authHooks?.scope()));
    }
    throw error;
  }
  if (response.status === 204) return undefined as T;
  // A 202 may come without a body.
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
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

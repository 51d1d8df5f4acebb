// What a token's scope allows, and where the sign-in page sends you back to.
// Pure: no React, no fetch.
import type { Scope } from '../api/types';

const RANK: Record<Scope, number> = { read: 0, submit: 1, admin: 2 };

/** What each scope adds, for the tokens page and tooltips. */
export const SCOPE_TEXT: Record<Scope, string> = {
  read: 'see everything except tokens',
  submit: 'read, and submit jobs and workflow runs',
  admin: 'everything: cancel, retry, delete, pause, schedules, workflows, definitions, webhooks and tokens',
};

/**
 * Whether a session of `scope` may do what needs `need`. An unknown scope
 * (no session known yet, or a page rendered outside the auth gate) allows:
 * the server still decides, and its 403 is shown.
 */
export function allows(scope: Scope | null | undefined, need: Scope): boolean {
  if (!scope || !(scope in RANK)) return true;
  return RANK[scope] >= RANK[need];
}

/** Why an action is off for this scope (a tooltip), or null when it is allowed. */
export function deniedReason(scope: Scope | null | undefined, need: Scope): string | null {
  if (allows(scope, need)) return null;
  return `Needs the ${need} scope; your token has ${scope}`;
}

/** The sign-in page's address that returns to `location` afterwards. */
export function loginPath(location: { pathname: string; search?: string; hash?: string }): string {
  const here = `${location.pathname}${location.search ?? ''}${location.hash ?? ''}`;
  if (here === '/' || location.pathname === '/login') return '/login';
  return `/login?next=${encodeURIComponent(here)}`;
}

/**
 * Where to go after signing in: `next` when it is an address of this app
 * (a path, not `//evil.example` or `https://…`, and not the sign-in page
 * itself), else the overview.
 */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next === '/login' || next.startsWith('/login?') || next.startsWith('/login/')) return '/';
  return next;
}

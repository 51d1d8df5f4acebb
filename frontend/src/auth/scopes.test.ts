import { describe, expect, it } from 'vitest';
import { allows, deniedReason, loginPath, safeNext } from './scopes';

describe('allows', () => {
  it('orders read < submit < admin', () => {
    expect(allows('read', 'read')).toBe(true);
    expect(allows('read', 'submit')).toBe(false);
    expect(allows('read', 'admin')).toBe(false);
    expect(allows('submit', 'submit')).toBe(true);
    expect(allows('submit', 'admin')).toBe(false);
    expect(allows('admin', 'admin')).toBe(true);
    expect(allows('admin', 'read')).toBe(true);
  });

  it('leaves it to the server when the scope is not known', () => {
    expect(allows(null, 'admin')).toBe(true);
    expect(allows(undefined, 'admin')).toBe(true);
  });
});

describe('deniedReason', () => {
  it('names what is needed and what the token has', () => {
    expect(deniedReason('read', 'admin')).toBe('Needs the admin scope; your token has read');
    expect(deniedReason('submit', 'submit')).toBeNull();
  });
});

describe('loginPath and safeNext', () => {
  it('comes back to the page, its filters and anchor', () => {
    const path = loginPath({ pathname: '/jobs', search: '?status=dead', hash: '#x' });
    expect(path).toBe('/login?next=%2Fjobs%3Fstatus%3Ddead%23x');
    const next = new URLSearchParams(path.split('?')[1]).get('next');
    expect(safeNext(next)).toBe('/jobs?status=dead#x');
    expect(loginPath({ pathname: '/' })).toBe('/login');
  });

  it('goes nowhere outside the app, and not back to the sign-in page', () => {
    expect(safeNext(null)).toBe('/');
    expect(safeNext('')).toBe('/');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext('//evil.example/x')).toBe('/');
    expect(safeNext('/\\evil.example')).toBe('/');
    expect(safeNext('javascript:alert(1)')).toBe('/');
    expect(safeNext('/login')).toBe('/');
    expect(safeNext('/login?next=/jobs')).toBe('/');
    expect(safeNext('/webhooks/abc')).toBe('/webhooks/abc');
  });
});

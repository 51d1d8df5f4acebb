import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi } from '../test/render';
import { ApiError, get, post, setAuthHooks } from './client';

afterEach(() => {
  setAuthHooks(null);
  vi.unstubAllGlobals();
});

const unauthorized = [401, { error: { code: 'unauthorized', message: 'sign in first', details: null } }];
const forbidden = [403, { error: { code: 'forbidden', message: 'this needs the admin scope', details: null } }];

describe('request and the session', () => {
  it('reports a 401 of any call but /session, once per call, and still throws it', async () => {
    fakeApi({ 'GET /jobs': unauthorized, 'GET /session': unauthorized, 'POST /session': unauthorized });
    const onUnauthorized = vi.fn();
    setAuthHooks({ onUnauthorized, scope: () => 'read' });
    await expect(get('/jobs')).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    // The session endpoints answer 401 by design: their callers handle it.
    await expect(get('/session')).rejects.toBeInstanceOf(ApiError);
    await expect(post('/session', { token: 'cvr_wrong' })).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('words a 403 with the session’s scope and keeps the server’s message', async () => {
    fakeApi({ 'POST /jobs/j1/cancel': forbidden });
    setAuthHooks({ onUnauthorized: vi.fn(), scope: () => 'read' });
    const error = await post('/jobs/j1/cancel').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe("Your token's scope (read) does not allow this");
    expect((error as ApiError).serverMessage).toBe('this needs the admin scope');
    expect((error as ApiError).status).toBe(403);
  });

  it('prefers the scope the server names in the 403', async () => {
    fakeApi({ 'POST /jobs': [403, { error: { code: 'forbidden', message: 'this needs a token of scope submit; yours is read', details: { needed_scope: 'submit', scope: 'read' } } }] });
    setAuthHooks({ onUnauthorized: vi.fn(), scope: () => 'admin' });
    await expect(post('/jobs', {})).rejects.toThrow("Your token's scope (read) does not allow this");
  });

  it('says so without a scope when none is known', async () => {
    fakeApi({ 'POST /queues/default/pause': forbidden });
    await expect(post('/queues/default/pause')).rejects.toThrow("Your token's scope does not allow this");
  });

  it('takes a 202 without a body', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(null, { status: 202 })));
    await expect(post('/webhooks/w1/test')).resolves.toBeUndefined();
  });
});

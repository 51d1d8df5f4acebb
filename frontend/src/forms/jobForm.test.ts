import { describe, expect, it } from 'vitest';
import type { Job } from '../api/types';
import { emptyForm, fieldMessage, formFromJob, validateJobForm, type JobForm } from './jobForm';

const form = (overrides: Partial<JobForm>): JobForm => ({ ...emptyForm(), ...overrides });
const errorsOf = (overrides: Partial<JobForm>) => validateJobForm(form(overrides)).errors;

describe('validateJobForm', () => {
  it('builds a minimal shell spec, leaving server defaults out', () => {
    const { errors, spec } = validateJobForm(form({ argv: ['sh', '-c', 'echo hi', ''] }));
    expect(errors).toEqual({});
    expect(spec).toEqual({ kind: 'shell', payload: { argv: ['sh', '-c', 'echo hi'] } });
  });

  it('names payload.argv when the command is empty', () => {
    expect(errorsOf({ argv: ['', ''] })['payload.argv']).toMatch(/non-empty array/);
  });

  it('keeps an empty argument between others', () => {
    const { spec } = validateJobForm(form({ argv: ['printf', '', 'x'] }));
    expect(spec?.payload).toEqual({ argv: ['printf', '', 'x'] });
  });

  it('sends env and cwd, and rejects a value without a name or a name given twice', () => {
    const { spec } = validateJobForm(form({ argv: ['env'], env: [{ key: 'A', value: '1' }], cwd: ' /tmp ' }));
    expect(spec?.payload).toEqual({ argv: ['env'], env: { A: '1' }, cwd: '/tmp' });
    expect(errorsOf({ argv: ['env'], env: [{ key: '', value: '1' }] })['payload.env']).toBeDefined();
    expect(errorsOf({ argv: ['env'], env: [{ key: 'A', value: '1' }, { key: 'A', value: '2' }] })['payload.env']).toMatch(/twice/);
  });

  it('checks the queue name like QueueName::parse', () => {
    expect(errorsOf({ argv: ['true'], queue: 'emails.high-1:x_y' })['queue']).toBeUndefined();
    expect(errorsOf({ argv: ['true'], queue: 'has space' })['queue']).toBeDefined();
    expect(errorsOf({ argv: ['true'], queue: 'q'.repeat(65) })['queue']).toBeDefined();
    expect(errorsOf({ argv: ['true'], queue: 'brace{' })['queue']).toBeDefined();
  });

  it('limits the name to 200 bytes, as the server counts them', () => {
    expect(errorsOf({ argv: ['true'], name: 'a'.repeat(200) })['name']).toBeUndefined();
    expect(errorsOf({ argv: ['true'], name: 'é'.repeat(101) })['name']).toBe('must be 1-200 characters');
  });

  it('checks priority, attempts and timeout ranges with the server’s messages', () => {
    expect(errorsOf({ argv: ['true'], priority: '10' })['priority']).toBe('must be an integer from 0 to 9');
    expect(errorsOf({ argv: ['true'], priority: '2.5' })['priority']).toBe('must be an integer from 0 to 9');
    expect(errorsOf({ argv: ['true'], maxAttempts: '0' })['max_attempts']).toBe('must be an integer from 1 to 1000');
    expect(errorsOf({ argv: ['true'], maxAttempts: '1001' })['max_attempts']).toBeDefined();
    expect(errorsOf({ argv: ['true'], timeoutSecs: '604801' })['timeout_secs']).toBe('must be an integer from 1 to 604800');
    const { spec } = validateJobForm(form({ argv: ['true'], priority: '9', maxAttempts: '2', timeoutSecs: '30' }));
    expect(spec).toMatchObject({ priority: 9, max_attempts: 2, timeout_secs: 30 });
  });

  it('requires backoff max ≥ base, with the server’s default base of 1000', () => {
    expect(errorsOf({ argv: ['true'], backoffBase: '500', backoffMax: '100' })['backoff.max_ms']).toBe('must be at least backoff.base_ms');
    expect(errorsOf({ argv: ['true'], backoffMax: '999' })['backoff.max_ms']).toBe('must be at least backoff.base_ms');
    expect(errorsOf({ argv: ['true'], backoffBase: '86400001' })['backoff.base_ms']).toBe('must be 0 to 86400000');
    const { spec } = validateJobForm(form({ argv: ['true'], backoffBase: '100', backoffMax: '200' }));
    expect(spec?.backoff).toEqual({ base_ms: 100, max_ms: 200 });
  });

  it('turns "after a delay" into delay_ms and "at a time" into an RFC 3339 run_at', () => {
    expect(validateJobForm(form({ argv: ['true'], when: 'delay', delay: '90', delayUnit: 's' })).spec?.delay_ms).toBe(90_000);
    expect(errorsOf({ argv: ['true'], when: 'delay', delay: '' })['delay_ms']).toBeDefined();
    expect(errorsOf({ argv: ['true'], when: 'delay', delay: '9000', delayUnit: 'h' })['delay_ms']).toBeDefined();
    const at = validateJobForm(form({ argv: ['true'], when: 'at', runAt: '2030-01-01T09:00' })).spec?.run_at;
    expect(at).toBe(new Date('2030-01-01T09:00').toISOString());
    expect(errorsOf({ argv: ['true'], when: 'at', runAt: '' })['run_at']).toBeDefined();
  });

  it('validates the http kind: absolute http(s) url, method, headers, JSON body', () => {
    expect(errorsOf({ kind: 'http', url: 'ftp://x' })['payload.url']).toBe('http needs url, an absolute http(s) URL');
    expect(errorsOf({ kind: 'http', url: '/relative' })['payload.url']).toBeDefined();
    expect(errorsOf({ kind: 'http', url: 'https://example.com', bodyMode: 'json', body: '{oops' })['payload.body']).toBe('is not valid JSON');
    const { spec } = validateJobForm(
      form({ kind: 'http', url: 'https://example.com/h', method: 'POST', headers: [{ key: 'X-A', value: 'b' }], bodyMode: 'json', body: '{"n": 1}' }),
    );
    expect(spec?.payload).toEqual({ url: 'https://example.com/h', method: 'POST', headers: { 'X-A': 'b' }, body: { n: 1 } });
  });

  it('validates sleep ms as an integer from 0 to a day', () => {
    expect(errorsOf({ kind: 'sleep', ms: '-1' })['payload.ms']).toMatch(/0 to 86400000/);
    expect(errorsOf({ kind: 'sleep', ms: '' })['payload.ms']).toBeDefined();
    expect(validateJobForm(form({ kind: 'sleep', ms: '250' })).spec?.payload).toEqual({ ms: 250 });
  });

  it('needs a kind name and a JSON object payload for custom kinds', () => {
    expect(errorsOf({ kind: 'custom', customKind: '' })['kind']).toBeDefined();
    expect(errorsOf({ kind: 'custom', customKind: 'greet', payload: '[1]' })['payload']).toBe('must be a JSON object');
    expect(errorsOf({ kind: 'custom', customKind: 'greet', payload: '{' })['payload']).toMatch(/not valid JSON/);
    expect(validateJobForm(form({ kind: 'custom', customKind: 'greet', payload: '{"name":"Ada"}' })).spec).toEqual({ kind: 'greet', payload: { name: 'Ada' } });
  });

  it('sends no payload for noop', () => {
    expect(validateJobForm(form({ kind: 'noop' })).spec).toEqual({ kind: 'noop' });
  });
});

describe('fieldMessage', () => {
  it('strips the field prefix the server puts in front of its message', () => {
    expect(fieldMessage('priority', 'priority: must be an integer from 0 to 9')).toBe('must be an integer from 0 to 9');
    expect(fieldMessage('kind', 'something else')).toBe('something else');
  });
});

describe('formFromJob', () => {
  it('round-trips a job through the form into the same spec', () => {
    const job = {
      id: 'x',
      queue: 'critical',
      kind: 'http',
      name: 'ping',
      payload: { url: 'https://example.com', method: 'post', headers: { A: 'b' }, body: { n: 1 } },
      priority: 7,
      max_attempts: 4,
      backoff: { base_ms: 200, max_ms: 5000 },
      timeout_secs: 30,
    } as unknown as Job;
    const { spec, errors } = validateJobForm(formFromJob(job));
    expect(errors).toEqual({});
    expect(spec).toEqual({
      kind: 'http',
      queue: 'critical',
      name: 'ping',
      payload: { url: 'https://example.com', method: 'POST', headers: { A: 'b' }, body: { n: 1 } },
      priority: 7,
      max_attempts: 4,
      backoff: { base_ms: 200, max_ms: 5000 },
      timeout_secs: 30,
    });
  });
});

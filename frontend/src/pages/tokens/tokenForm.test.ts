import { describe, expect, it } from 'vitest';
import type { Scope } from '../../api/types';
import { validateTokenForm } from './tokenForm';

describe('validateTokenForm', () => {
  it('trims the name and keeps the scope', () => {
    expect(validateTokenForm({ name: '  ci-deploy ', scope: 'submit' })).toEqual({ errors: {}, spec: { name: 'ci-deploy', scope: 'submit' } });
  });

  it('wants a name of at most 100 characters and a known scope', () => {
    expect(validateTokenForm({ name: '   ', scope: 'read' }).errors['name']).toMatch(/is required/);
    expect(validateTokenForm({ name: 'x'.repeat(101), scope: 'read' }).errors['name']).toMatch(/at most 100/);
    const bad = validateTokenForm({ name: 'ok', scope: 'root' as Scope });
    expect(bad.spec).toBeNull();
    expect(bad.errors['scope']).toMatch(/read, submit, admin/);
  });
});

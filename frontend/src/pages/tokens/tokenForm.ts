// The new-token form: state, checks, and the request.
import { SCOPES, type Scope, type TokenSpec } from '../../api/types';
import type { FieldErrors } from '../../forms/jobForm';

export interface TokenForm {
  name: string;
  scope: Scope;
}

export const EMPTY_TOKEN_FORM: TokenForm = { name: '', scope: 'read' };

export const TOKEN_NAME_MAX = 100;

export function validateTokenForm(form: TokenForm): { errors: FieldErrors; spec: TokenSpec | null } {
  const errors: FieldErrors = {};
  const name = form.name.trim();
  if (!name) errors['name'] = 'is required: say who or what uses it (e.g. "ci-deploy")';
  else if (name.length > TOKEN_NAME_MAX) errors['name'] = `must be at most ${TOKEN_NAME_MAX} characters`;
  if (!SCOPES.includes(form.scope)) errors['scope'] = `must be one of ${SCOPES.join(', ')}`;
  return Object.keys(errors).length ? { errors, spec: null } : { errors, spec: { name, scope: form.scope } };
}

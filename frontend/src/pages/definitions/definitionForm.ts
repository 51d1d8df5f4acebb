// The definition form: a name, a description and a job template (its own
// fields only: a definition cannot refer to another). Errors use the
// server's names (`name`, `template.payload.argv`).
import type { Definition, DefinitionSpec } from '../../api/types';
import type { FieldErrors } from '../../forms/jobForm';
import { emptyTemplate, errorsWithPrefix, templateFromSpec, validateTemplate, type TemplateForm } from '../../forms/template';

export interface DefinitionForm {
  name: string;
  description: string;
  template: TemplateForm;
}

const NAME_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

export const emptyDefinitionForm = (): DefinitionForm => ({ name: '', description: '', template: emptyTemplate() });

export function definitionFormFrom(definition: Definition): DefinitionForm {
  return { name: definition.name, description: definition.description ?? '', template: templateFromSpec(definition.template) };
}

export function validateDefinitionForm(form: DefinitionForm): { errors: FieldErrors; spec: DefinitionSpec | null } {
  const errors: FieldErrors = {};
  if (!NAME_RE.test(form.name)) errors['name'] = "must be 1-64 characters of letters, digits, '_', '.', ':' or '-'";
  const template = validateTemplate({ ...form.template, source: 'fields' });
  Object.assign(errors, errorsWithPrefix(template.errors, 'template.'));
  if (Object.keys(errors).length || !template.spec) return { errors, spec: null };
  const spec: DefinitionSpec = { name: form.name, template: template.spec };
  if (form.description.trim()) spec.description = form.description.trim();
  return { errors, spec };
}

// Settings → Tokens: the api tokens, a new one (its secret shown once), revoke.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Ban, KeyRound, Plus } from 'lucide-react';
import { useState, type FormEvent } from 'react';
import { ApiError } from '../../api/client';
import { api } from '../../api/endpoints';
import { keys, useTokens } from '../../api/queries';
import { SCOPES, type ApiToken, type CreatedToken, type Scope } from '../../api/types';
import { useCan } from '../../auth/session';
import { SCOPE_TEXT } from '../../auth/scopes';
import { ConfirmDialog } from '../../components/Dialog';
import { SecretBox } from '../../components/SecretBox';
import { ScopeBadge } from '../../components/SessionBar';
import { useToast } from '../../components/toast';
import { Button, Card, EmptyState, LoadError, Mono, PageHeader, TableSkeleton, Unavailable } from '../../components/ui';
import { Field, fieldId, inputClass, TextInput } from '../../forms/fields';
import { fieldMessage, type FieldErrors } from '../../forms/jobForm';
import { formatFullTime, formatRelative } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { EMPTY_TOKEN_FORM, TOKEN_NAME_MAX, validateTokenForm, type TokenForm } from './tokenForm';

const th = 'px-3 py-2.5 text-left text-[0.7rem] font-semibold uppercase tracking-wider text-slate-500 whitespace-nowrap';
const td = 'px-3 py-3 align-middle';

function NewTokenForm({ onCreated }: { onCreated: (created: CreatedToken) => void }) {
  const client = useQueryClient();
  const [form, setForm] = useState<TokenForm>(EMPTY_TOKEN_FORM);
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const { errors: clientErrors, spec } = validateTokenForm(form);
  const errors: FieldErrors = { ...(submitted ? clientErrors : {}), ...serverErrors };

  const create = useMutation({
    mutationFn: api.createToken,
    onSuccess: (created) => {
      void client.invalidateQueries({ queryKey: keys.tokens() });
      setForm(EMPTY_TOKEN_FORM);
      setSubmitted(false);
      onCreated(created);
    },
    onError: (e) => {
      if (e instanceof ApiError && e.field) setServerErrors({ [e.field]: fieldMessage(e.field, e.message) });
      else setGeneral(e instanceof Error ? e.message : String(e));
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    setGeneral(null);
    if (!spec) {
      const first = Object.keys(clientErrors)[0];
      if (first) document.getElementById(fieldId(first))?.focus();
      return;
    }
    create.mutate(spec);
  }

  return (
    <form onSubmit={submit} noValidate data-testid="token-form" className="grid items-start gap-4 sm:grid-cols-[2fr_1fr_auto]">
      <Field field="name" label="Name" error={errors['name']} hint="Who or what uses it: a person, a service, a CI job.">
        <TextInput
          field="name"
          error={errors['name']}
          value={form.name}
          maxLength={TOKEN_NAME_MAX + 20}
          placeholder="ci-deploy"
          onChange={(e) => {
            setForm((f) => ({ ...f, name: e.target.value }));
            setServerErrors(({ name: _name, ...rest }) => rest);
          }}
        />
      </Field>
      <Field field="scope" label="Scope" error={errors['scope']} hint={SCOPE_TEXT[form.scope]}>
        <select
          id={fieldId('scope')}
          value={form.scope}
          onChange={(e) => {
            setForm((f) => ({ ...f, scope: e.target.value as Scope }));
            setServerErrors(({ scope: _scope, ...rest }) => rest);
          }}
          className={inputClass}
        >
          {SCOPES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </Field>
      <div className="pt-6">
        <Button type="submit" variant="primary" busy={create.isPending} data-testid="create-token" need="admin">
          <Plus className="size-4" aria-hidden /> Create token
        </Button>
      </div>
      {general && (
        <p role="alert" className="text-sm font-medium text-rose-600 sm:col-span-3">
          {general}
        </p>
      )}
    </form>
  );
}

function TokenState({ token }: { token: ApiToken }) {
  if (token.revoked_at)
    return (
      <span data-testid="token-state" data-state="revoked" title={formatFullTime(token.revoked_at)} className="inline-flex items-center gap-1 rounded-full bg-rose-50 px-2 py-0.5 text-xs font-medium text-rose-700 ring-1 ring-rose-600/20 ring-inset">
        revoked
      </span>
    );
  return (
    <span data-testid="token-state" data-state="active" className="inline-flex items-center gap-1 rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-medium text-emerald-700 ring-1 ring-emerald-600/20 ring-inset">
      <span className="size-1.5 rounded-full bg-emerald-500" /> active
    </span>
  );
}

export function TokensPage() {
  const { allowed, reason } = useCan('admin');
  const list = useTokens(allowed);
  const client = useQueryClient();
  const toast = useToast();
  const now = useNow(30_000);
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);

  const revoke = useMutation({
    mutationFn: (t: ApiToken) => api.revokeToken(t.id).then(() => t),
    onSuccess: (t) => {
      void client.invalidateQueries({ queryKey: keys.tokens() });
      toast('success', `Token ${t.name} revoked: calls with it now get 401`);
    },
    onError: (e) => toast('error', e instanceof Error ? e.message : String(e)),
  });

  const tokens = list.data?.tokens ?? [];
  return (
    <>
      <PageHeader
        title="Tokens"
        description="Api tokens for scripts, services and this dashboard's sign-in. A token's scope bounds what it can do; revoking one takes effect on its next call."
      />
      {!allowed ? (
        <Unavailable feature="Tokens">{reason}. Ask an admin for a token, or for a change of scope.</Unavailable>
      ) : (
        <div className="space-y-6">
          {created && (
            <SecretBox title={`Token ${created.token.name} (${created.token.scope})`} secret={created.secret} testId="token-secret" onDismiss={() => setCreated(null)}>
              Use it as <code className="font-mono text-xs">Authorization: Bearer …</code>, or paste it into the sign-in page.
            </SecretBox>
          )}
          <Card title="New token">
            <NewTokenForm onCreated={setCreated} />
          </Card>
          <Card bodyClassName="">
            {list.isPending ? (
              <TableSkeleton rows={3} cols={6} />
            ) : list.isError ? (
              <div className="p-5">
                <LoadError error={list.error} feature="Tokens" onRetry={() => void list.refetch()} />
              </div>
            ) : tokens.length === 0 ? (
              <EmptyState title="No tokens yet" icon={<KeyRound className="size-5" />}>
                Create one above; its secret is shown once.
              </EmptyState>
            ) : (
              <div className="overflow-x-auto">
                <table className="min-w-full text-sm" data-testid="tokens-table">
                  <thead className="border-b border-slate-200 bg-slate-50/80">
                    <tr>
                      <th className={`${th} pl-5`}>Name</th>
                      <th className={th}>Scope</th>
                      <th className={th}>Prefix</th>
                      <th className={th}>Created</th>
                      <th className={th}>Last used</th>
                      <th className={th}>State</th>
                      <th className={`${th} pr-5`}>
                        <span className="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody className="divide-y divide-slate-100">
                    {tokens.map((t) => (
                      <tr key={t.id} data-token={t.name} data-token-id={t.id} className={t.revoked_at ? 'bg-slate-50/60 text-slate-400' : 'hover:bg-slate-50'}>
                        <td className={`${td} pl-5 font-medium ${t.revoked_at ? 'text-slate-500 line-through' : 'text-slate-900'}`}>{t.name}</td>
                        <td className={td}>
                          <ScopeBadge scope={t.scope} />
                        </td>
                        <td className={td}>
                          <Mono className="text-slate-600">{t.prefix}…</Mono>
                        </td>
                        <td className={`${td} whitespace-nowrap text-slate-600`} title={formatFullTime(t.created_at)}>
                          {formatRelative(t.created_at, now)}
                        </td>
                        <td className={`${td} whitespace-nowrap text-slate-600`} title={t.last_used_at ? formatFullTime(t.last_used_at) : undefined}>
                          {t.last_used_at ? formatRelative(t.last_used_at, now) : <span className="text-slate-400">never</span>}
                        </td>
                        <td className={td}>
                          <TokenState token={t} />
                          {t.revoked_at && <span className="ml-2 text-xs text-slate-400">{formatRelative(t.revoked_at, now)}</span>}
                        </td>
                        <td className={`${td} pr-5 text-right`}>
                          {!t.revoked_at && (
                            <Button size="sm" variant="danger" need="admin" data-testid="revoke-token" aria-label={`Revoke ${t.name}`} busy={revoke.isPending && revoke.variables?.id === t.id} onClick={() => setRevoking(t)}>
                              <Ban className="size-3.5" aria-hidden /> Revoke
                            </Button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>
        </div>
      )}
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke token ${revoking?.name ?? ''}?`}
        confirmLabel="Revoke token"
        onClose={() => setRevoking(null)}
        onConfirm={() => revoking && revoke.mutate(revoking)}
      >
        Every call made with it is refused from now on, and browsers signed in with it are signed out. This cannot be undone; the token stays listed as revoked.
      </ConfirmDialog>
    </>
  );
}

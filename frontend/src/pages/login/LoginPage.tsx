// Sign in with an api token: POST /session sets an HttpOnly cookie that the
// browser then sends with every call and the live socket.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Activity, KeyRound } from 'lucide-react';
import { useEffect, useState, type FormEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { ApiError } from '../../api/client';
import { api } from '../../api/endpoints';
import { keys, useSessionQuery } from '../../api/queries';
import { safeNext } from '../../auth/scopes';
import { fieldId, inputCls } from '../../forms/fields';
import { Button, ErrorState } from '../../components/ui';

export const WRONG_TOKEN = 'That token is not valid';

export function LoginPage() {
  const session = useSessionQuery();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);

  // What the last session had cached is not this one's to see.
  useEffect(() => {
    if (session.data === null) client.removeQueries({ queryKey: keys.all });
  }, [client, session.data]);

  const signIn = useMutation({
    mutationFn: (secret: string) => api.signIn(secret),
    onSuccess: (s) => {
      client.setQueryData(keys.session(), s);
      navigate(next, { replace: true });
    },
    onError: (e) => {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) setError(WRONG_TOKEN);
      else if (e instanceof ApiError && e.status === 422) setError(e.message);
      else setError(e instanceof Error ? e.message : String(e));
    },
  });

  // Already signed in, or the api runs without auth: nothing to do here.
  if (session.data && !signIn.isPending && !signIn.isSuccess) return <Navigate to={next} replace />;

  function submit(event: FormEvent) {
    event.preventDefault();
    const secret = token.trim();
    if (!secret) {
      setError('Paste an api token');
      return;
    }
    setError(null);
    signIn.mutate(secret);
  }

  const id = fieldId('token');
  return (
    <div className="flex min-h-screen items-center justify-center bg-slate-50 px-4 text-slate-900">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex items-center justify-center gap-2.5">
          <div className="flex size-9 items-center justify-center rounded-lg bg-indigo-600 text-white shadow-sm">
            <Activity className="size-5" aria-hidden />
          </div>
          <div>
            <p className="text-base font-semibold leading-tight">Conveyor</p>
            <p className="text-xs leading-tight text-slate-500">Job scheduler</p>
          </div>
        </div>
        <form onSubmit={submit} noValidate className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm" data-testid="login-form">
          <h1 className="text-lg font-semibold tracking-tight">Sign in</h1>
          <p className="mt-1 text-sm text-slate-500">
            With an api token (<code className="font-mono text-xs">cvr_…</code>). An admin makes one under Settings → Tokens, or with{' '}
            <code className="font-mono text-xs">conveyor-api token create</code>.
          </p>
          {session.isError && (
            <div className="mt-4">
              <ErrorState error={session.error} onRetry={() => void session.refetch()} />
            </div>
          )}
          <label htmlFor={id} className="mt-5 block text-sm font-medium text-slate-700">
            Api token
          </label>
          <div className="relative mt-1">
            <KeyRound className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-slate-400" aria-hidden />
            <input
              id={id}
              type="password"
              name="token"
              autoComplete="current-password"
              autoFocus
              spellCheck={false}
              value={token}
              onChange={(e) => {
                setToken(e.target.value);
                setError(null);
              }}
              placeholder="cvr_…"
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? `${id}-error` : undefined}
              className={inputCls('pl-8 font-mono')}
            />
          </div>
          {error && (
            <p id={`${id}-error`} role="alert" data-testid="login-error" className="mt-1.5 text-sm font-medium text-rose-600">
              {error}
            </p>
          )}
          <Button type="submit" variant="primary" busy={signIn.isPending} className="mt-5 w-full" data-testid="sign-in">
            Sign in
          </Button>
        </form>
        <p className="mt-4 text-center text-xs text-slate-400">The session is kept in a cookie scripts cannot read; sign out from the header.</p>
      </div>
    </div>
  );
}

// The top bar: who is signed in, with which scope, and Sign out; or a
// warning that the api runs without access control.
import clsx from 'clsx';
import { KeyRound, LogOut, ShieldAlert } from 'lucide-react';
import type { Scope } from '../api/types';
import { useSession, useSignOut } from '../auth/session';
import { SCOPE_TEXT } from '../auth/scopes';
import { useToast } from './toast';
import { Button } from './ui';

const SCOPE_TONE: Record<Scope, string> = {
  read: 'bg-slate-100 text-slate-700 ring-slate-500/20',
  submit: 'bg-sky-50 text-sky-700 ring-sky-600/20',
  admin: 'bg-violet-50 text-violet-700 ring-violet-600/20',
};

export function ScopeBadge({ scope, testId }: { scope: Scope; testId?: string }) {
  return (
    <span
      data-testid={testId}
      data-scope={scope}
      title={`${scope}: ${SCOPE_TEXT[scope] ?? ''}`}
      className={clsx('inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset', SCOPE_TONE[scope] ?? SCOPE_TONE.read)}
    >
      {scope}
    </span>
  );
}

export function SessionBar() {
  const session = useSession();
  const signOut = useSignOut();
  const toast = useToast();
  if (!session) return null;
  return (
    <div className="flex items-center justify-end gap-3 text-sm" data-testid="session-bar">
      {session.auth === 'disabled' ? (
        <span
          data-testid="auth-disabled"
          title="The api runs with AUTH_DISABLED: anyone who can reach it can do anything"
          className="inline-flex items-center gap-1 rounded-full bg-amber-50 px-2 py-0.5 text-xs font-medium text-amber-800 ring-1 ring-amber-600/30 ring-inset"
        >
          <ShieldAlert className="size-3.5" aria-hidden /> auth disabled
        </span>
      ) : (
        <>
          <span className="inline-flex items-center gap-1.5 text-slate-600" data-testid="session-name">
            <KeyRound className="size-3.5 text-slate-400" aria-hidden />
            <span className="font-medium text-slate-800">{session.name ?? 'api token'}</span>
          </span>
          <ScopeBadge scope={session.scope} testId="session-scope" />
          <Button
            size="sm"
            variant="ghost"
            data-testid="sign-out"
            busy={signOut.isPending}
            onClick={() => signOut.mutate(undefined, { onError: (e) => toast('error', e instanceof Error ? e.message : String(e)) })}
          >
            <LogOut className="size-3.5" aria-hidden /> Sign out
          </Button>
        </>
      )}
    </div>
  );
}

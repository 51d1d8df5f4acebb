// Small building blocks shared by the pages.
import clsx from 'clsx';
import type { ButtonHTMLAttributes, ReactNode } from 'react';
import { AlertTriangle, Inbox, Loader2, PlugZap } from 'lucide-react';
import { Link, type LinkProps } from 'react-router';
import { ApiError, isUnavailable } from '../api/client';
import type { Scope } from '../api/types';
import { useCan } from '../auth/context';

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="mb-6 flex flex-wrap items-end justify-between gap-4">
      <div>
        <h1 className="text-xl font-semibold tracking-tight text-slate-900">{title}</h1>
        {description && <p className="mt-1 text-sm text-slate-500">{description}</p>}
      </div>
      {actions && <div className="flex flex-wrap items-center gap-2">{actions}</div>}
    </div>
  );
}

export function Card({ title, actions, children, className, bodyClassName }: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  bodyClassName?: string;
}) {
  return (
    <section className={clsx('rounded-xl border border-slate-200 bg-white shadow-sm', className)}>
      {(title || actions) && (
        <header className="flex items-center justify-between gap-3 border-b border-slate-100 px-5 py-3">
          <h2 className="text-sm font-semibold text-slate-800">{title}</h2>
          {actions && <div className="flex items-center gap-2">{actions}</div>}
        </header>
      )}
      <div className={clsx(bodyClassName ?? 'p-5')}>{children}</div>
    </section>
  );
}

type Variant = 'primary' | 'secondary' | 'danger' | 'ghost';

const VARIANTS: Record<Variant, string> = {
  primary: 'bg-indigo-600 text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-indigo-600 disabled:bg-indigo-300',
  secondary: 'bg-white text-slate-700 shadow-sm ring-1 ring-inset ring-slate-300 hover:bg-slate-50 disabled:text-slate-400',
  danger: 'bg-white text-rose-700 shadow-sm ring-1 ring-inset ring-rose-300 hover:bg-rose-50 disabled:text-rose-300 disabled:ring-rose-200',
  ghost: 'text-slate-600 hover:bg-slate-100 hover:text-slate-900 disabled:text-slate-300',
};

export function Button({ variant = 'secondary', size = 'md', busy, need, className, children, disabled, title, ...rest }: ButtonHTMLAttributes<HTMLButtonElement> & {
  variant?: Variant;
  size?: 'sm' | 'md';
  busy?: boolean;
  /** The scope the action needs: below it the button is disabled and says why. */
  need?: Scope;
}) {
  const { reason } = useCan(need ?? 'read');
  const button = (
    <button
      type="button"
      {...rest}
      title={reason ? undefined : title}
      disabled={disabled || busy || reason !== null}
      data-denied={reason ? 'true' : undefined}
      className={clsx(
        'inline-flex items-center justify-center gap-1.5 rounded-md font-medium whitespace-nowrap transition-colors focus-visible:outline-2 focus-visible:outline-offset-2 disabled:cursor-not-allowed',
        size === 'sm' ? 'px-2.5 py-1 text-xs' : 'px-3 py-1.5 text-sm',
        VARIANTS[variant],
        className,
      )}
    >
      {busy && <Loader2 className="size-3.5 animate-spin" aria-hidden />}
      {children}
    </button>
  );
  // A disabled button gets no pointer events in some browsers: the wrapper carries the tooltip.
  return reason ? <Denied reason={reason}>{button}</Denied> : button;
}

/** A small icon-only button (a row's delete); `need` as for Button. */
export function IconButton({ need, className, disabled, title, ...rest }: ButtonHTMLAttributes<HTMLButtonElement> & { need?: Scope }) {
  const { reason } = useCan(need ?? 'read');
  const button = (
    <button
      type="button"
      {...rest}
      title={reason ? undefined : title}
      disabled={disabled || reason !== null}
      className={clsx('rounded-md p-1.5 disabled:cursor-not-allowed disabled:opacity-40 disabled:hover:bg-transparent', className)}
    />
  );
  return reason ? <Denied reason={reason}>{button}</Denied> : button;
}

/** Wraps what the session's scope does not allow, with the reason as its tooltip. */
export function Denied({ reason, children, className }: { reason: string; children: ReactNode; className?: string | undefined }) {
  return (
    <span className={clsx('cursor-not-allowed', className ?? 'inline-flex')} title={reason} data-testid="denied">
      {children}
    </span>
  );
}

/**
 * A link to a page that makes something (New job, New schedule): below the
 * scope it needs, shown greyed out with the reason instead of linking.
 */
export function GatedLink({ need, className, wrapperClassName, children, ...rest }: LinkProps & { need: Scope; className?: string; wrapperClassName?: string }) {
  const { reason } = useCan(need);
  if (reason)
    return (
      <Denied reason={reason} className={wrapperClassName}>
        <span aria-disabled="true" data-testid={(rest as Record<string, unknown>)['data-testid'] as string | undefined} className={clsx(className, 'pointer-events-none opacity-50')}>
          {children}
        </span>
      </Denied>
    );
  return (
    <Link className={className} {...rest}>
      {children}
    </Link>
  );
}

export function Skeleton({ className }: { className?: string }) {
  return <div className={clsx('animate-pulse rounded bg-slate-200/70', className)} />;
}

export function TableSkeleton({ rows = 8, cols = 6 }: { rows?: number; cols?: number }) {
  return (
    <div className="divide-y divide-slate-100" aria-busy="true" aria-label="Loading">
      {Array.from({ length: rows }, (_, r) => (
        <div key={r} className="flex items-center gap-4 px-5 py-3.5">
          {Array.from({ length: cols }, (_, c) => (
            <Skeleton key={c} className={clsx('h-3.5', c === 0 ? 'w-4' : c === 1 ? 'w-24' : 'flex-1')} />
          ))}
        </div>
      ))}
    </div>
  );
}

export function EmptyState({ title, children, icon }: { title: string; children?: ReactNode; icon?: ReactNode }) {
  return (
    <div className="flex flex-col items-center justify-center px-6 py-14 text-center">
      <div className="mb-3 flex size-11 items-center justify-center rounded-full bg-slate-100 text-slate-400">
        {icon ?? <Inbox className="size-5" aria-hidden />}
      </div>
      <p className="text-sm font-medium text-slate-800">{title}</p>
      {children && <div className="mt-1 max-w-md text-sm text-slate-500">{children}</div>}
    </div>
  );
}

/** Explains that this server lacks an endpoint (an older api), for one part of a page. */
export function Unavailable({ feature, children }: { feature: string; children?: ReactNode }) {
  return (
    <div data-testid="unavailable" className="flex items-start gap-3 rounded-lg border border-dashed border-slate-300 bg-slate-50 px-4 py-3 text-sm text-slate-600">
      <PlugZap className="mt-0.5 size-4 shrink-0 text-slate-400" aria-hidden />
      <div>
        <p className="font-medium text-slate-700">{feature}: not available on this server.</p>
        {children && <p className="mt-0.5">{children}</p>}
      </div>
    </div>
  );
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const message = error instanceof Error ? error.message : String(error);
  const status = error instanceof ApiError && error.status ? ` (${error.status})` : '';
  return (
    <div role="alert" className="flex items-start gap-3 rounded-lg border border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-800">
      <AlertTriangle className="mt-0.5 size-4 shrink-0" aria-hidden />
      <div className="flex-1">
        <p className="font-medium">Could not load{status}</p>
        <p className="mt-0.5 text-rose-700">{message}</p>
      </div>
      {onRetry && (
        <Button size="sm" variant="secondary" onClick={onRetry}>
          Try again
        </Button>
      )}
    </div>
  );
}

/** ErrorState, or Unavailable when the server lacks the endpoint. */
export function LoadError({ error, feature, onRetry }: { error: unknown; feature: string; onRetry?: () => void }) {
  if (isUnavailable(error)) return <Unavailable feature={feature} />;
  return <ErrorState error={error} {...(onRetry ? { onRetry } : {})} />;
}

export function Mono({ children, className }: { children: ReactNode; className?: string }) {
  return <span className={clsx('font-mono text-[0.8rem]', className)}>{children}</span>;
}

export function Kbd({ children }: { children: ReactNode }) {
  return <code className="rounded bg-slate-100 px-1 py-0.5 font-mono text-[0.8rem] text-slate-700">{children}</code>;
}

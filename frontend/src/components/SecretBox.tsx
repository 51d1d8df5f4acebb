// A secret the api shows once (a new token, a webhook's signing secret):
// selectable, copyable, with a plain warning that it will not be shown again.
import { Check, Copy, TriangleAlert, X } from 'lucide-react';
import { useState, type ReactNode } from 'react';

export function SecretBox({ title, secret, children, onDismiss, testId = 'secret' }: {
  title: string;
  secret: string;
  /** What the secret is for, under the warning. */
  children?: ReactNode;
  onDismiss?: () => void;
  testId?: string;
}) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    void navigator.clipboard
      ?.writeText(secret)
      .then(() => {
        setCopied(true);
        setTimeout(() => setCopied(false), 2000);
      })
      .catch(() => {});
  };
  return (
    <div role="region" aria-label={title} data-testid={`${testId}-box`} className="rounded-xl border border-amber-300 bg-amber-50 p-4 shadow-sm">
      <div className="flex items-start gap-3">
        <TriangleAlert className="mt-0.5 size-5 shrink-0 text-amber-600" aria-hidden />
        <div className="min-w-0 flex-1">
          <p className="text-sm font-semibold text-amber-900">{title}</p>
          <p className="mt-0.5 text-sm text-amber-800" data-testid={`${testId}-note`}>
            Copy it now: <strong>you will not see it again.</strong> Only a hash of it is stored.
          </p>
          {children && <div className="mt-1 text-sm text-amber-800">{children}</div>}
          <div className="mt-3 flex items-stretch gap-2">
            <input
              readOnly
              aria-label={title}
              value={secret}
              data-testid={testId}
              onFocus={(e) => e.currentTarget.select()}
              className="min-w-0 flex-1 rounded-md border-0 bg-white px-2.5 py-1.5 font-mono text-sm text-slate-900 ring-1 ring-amber-300 ring-inset focus:ring-2 focus:ring-amber-500 focus:outline-none"
            />
            <button
              type="button"
              onClick={copy}
              data-testid={`${testId}-copy`}
              className="inline-flex items-center gap-1.5 rounded-md bg-white px-3 text-sm font-medium text-amber-900 shadow-sm ring-1 ring-amber-300 ring-inset hover:bg-amber-100"
            >
              {copied ? <Check className="size-4" aria-hidden /> : <Copy className="size-4" aria-hidden />}
              {copied ? 'Copied' : 'Copy'}
            </button>
          </div>
        </div>
        {onDismiss && (
          <button type="button" onClick={onDismiss} aria-label="I have saved it" title="I have saved it" data-testid={`${testId}-dismiss`} className="rounded p-1 text-amber-700 hover:bg-amber-100">
            <X className="size-4" />
          </button>
        )}
      </div>
    </div>
  );
}

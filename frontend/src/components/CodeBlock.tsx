import clsx from 'clsx';
import { Check, Copy } from 'lucide-react';
import { useState } from 'react';

/** Pretty JSON or captured output in a monospace panel with a copy button. */
export function CodeBlock({ value, dark, testId, maxHeight = 'max-h-96', empty = 'empty' }: {
  value: unknown;
  dark?: boolean;
  testId?: string;
  maxHeight?: string;
  empty?: string;
}) {
  const [copied, setCopied] = useState(false);
  const text = typeof value === 'string' ? value : value === null || value === undefined ? '' : JSON.stringify(value, null, 2);
  return (
    <div className="group relative">
      <pre
        data-testid={testId}
        className={clsx(
          'overflow-auto rounded-lg p-4 font-mono text-[0.78rem] leading-relaxed whitespace-pre-wrap break-all',
          maxHeight,
          dark ? 'bg-slate-900 text-slate-100' : 'bg-slate-50 text-slate-800 ring-1 ring-inset ring-slate-200',
        )}
      >
        {text || <span className={dark ? 'text-slate-500' : 'text-slate-400'}>{empty}</span>}
      </pre>
      {text && (
        <button
          type="button"
          aria-label="Copy"
          onClick={() => {
            void navigator.clipboard?.writeText(text).then(() => {
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            });
          }}
          className={clsx(
            'absolute top-2 right-2 rounded-md p-1.5 opacity-0 transition-opacity group-hover:opacity-100',
            dark ? 'bg-slate-800 text-slate-300 hover:text-white' : 'bg-white text-slate-500 ring-1 ring-slate-200 hover:text-slate-800',
          )}
        >
          {copied ? <Check className="size-3.5" /> : <Copy className="size-3.5" />}
        </button>
      )}
    </div>
  );
}

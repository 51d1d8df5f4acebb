// Short-lived notices after an action ("3 jobs retried").
import clsx from 'clsx';
import { CheckCircle2, XCircle, X } from 'lucide-react';
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';

interface Toast {
  id: number;
  tone: 'success' | 'error';
  text: string;
}

const ToastContext = createContext<(tone: Toast['tone'], text: string) => void>(() => {});

let nextId = 1;

// For code outside React (the QueryClient's error handlers): the mounted
// provider's `show`.
let outside: ((tone: Toast['tone'], text: string) => void) | null = null;

/** Shows a toast from outside the React tree; a no-op before the provider mounts. */
export function notify(tone: Toast['tone'], text: string): void {
  outside?.(tone, text);
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = useCallback((id: number) => setToasts((all) => all.filter((t) => t.id !== id)), []);
  const show = useCallback(
    (tone: Toast['tone'], text: string) => {
      const id = nextId++;
      // The same notice twice (a page's own handler and the app's) shows once.
      setToasts((all) => (all.some((t) => t.tone === tone && t.text === text) ? all : [...all.slice(-3), { id, tone, text }]));
      setTimeout(() => dismiss(id), tone === 'error' ? 8000 : 4000);
    },
    [dismiss],
  );
  useEffect(() => {
    outside = show;
    return () => {
      if (outside === show) outside = null;
    };
  }, [show]);
  return (
    <ToastContext.Provider value={show}>
      {children}
      <div className="pointer-events-none fixed right-6 bottom-6 z-50 flex w-96 flex-col gap-2" aria-live="polite">
        {toasts.map((t) => (
          <div
            key={t.id}
            role="status"
            data-testid="toast"
            className={clsx(
              'pointer-events-auto flex items-start gap-2.5 rounded-lg border bg-white px-4 py-3 text-sm shadow-lg',
              t.tone === 'success' ? 'border-emerald-200' : 'border-rose-200',
            )}
          >
            {t.tone === 'success' ? (
              <CheckCircle2 className="mt-0.5 size-4 shrink-0 text-emerald-500" aria-hidden />
            ) : (
              <XCircle className="mt-0.5 size-4 shrink-0 text-rose-500" aria-hidden />
            )}
            <p className="flex-1 text-slate-700">{t.text}</p>
            <button type="button" onClick={() => dismiss(t.id)} className="text-slate-400 hover:text-slate-600" aria-label="Dismiss">
              <X className="size-4" />
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

export function useToast() {
  return useContext(ToastContext);
}

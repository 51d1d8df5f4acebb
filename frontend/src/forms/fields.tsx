// Form controls with a label, a hint and the error for one named field.
import clsx from 'clsx';
import { Plus, Trash2 } from 'lucide-react';
import { createContext, useContext, type InputHTMLAttributes, type ReactNode } from 'react';
import type { Pair } from './jobForm';

export const inputClass =
  'block w-full rounded-md border-0 bg-white px-2.5 py-1.5 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-400 focus:ring-2 focus:ring-inset focus:ring-indigo-500 focus:outline-none aria-[invalid=true]:ring-rose-400 aria-[invalid=true]:focus:ring-rose-500';

/** inputClass plus `extra`; a width in `extra` replaces the default full width
 *  (two width utilities would otherwise fight over CSS order). */
export function inputCls(extra?: string): string {
  const base = extra && /(^|\s)w-/.test(extra) ? inputClass.replace('w-full ', '') : inputClass;
  return clsx(base, extra);
}

export function fieldId(field: string): string {
  return `field-${field.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
}

const Scope = createContext('');

/**
 * Names the fields inside with a prefix, as the server names them in a larger
 * request (`target.job.`, `nodes[2].job.`): ids, labels and error test ids
 * then stay unique on a page with two templates, and match the server's 422.
 */
export function FieldScope({ prefix, children }: { prefix: string; children: ReactNode }) {
  const outer = useContext(Scope);
  return <Scope.Provider value={outer + prefix}>{children}</Scope.Provider>;
}

/** The full name of a field inside the surrounding FieldScope. */
export function useScoped(): (field: string) => string {
  const prefix = useContext(Scope);
  return (field) => prefix + field;
}

export function FieldError({ field, error }: { field: string; error?: string | undefined }) {
  const full = useScoped()(field);
  if (!error) return null;
  return (
    <p id={`${fieldId(full)}-error`} data-testid={`error-${full}`} className="mt-1 text-xs font-medium text-rose-600">
      {error}
    </p>
  );
}

export function Field({ field, label, hint, error, children, className }: {
  field: string;
  label: string;
  hint?: ReactNode;
  error?: string | undefined;
  children: ReactNode;
  className?: string;
}) {
  const full = useScoped()(field);
  return (
    <div className={className}>
      <label htmlFor={fieldId(full)} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      <div className="mt-1">{children}</div>
      {hint && !error && <p className="mt-1 text-xs text-slate-500">{hint}</p>}
      <FieldError field={field} error={error} />
    </div>
  );
}

export function TextInput({ field, error, className, ...rest }: InputHTMLAttributes<HTMLInputElement> & { field: string; error?: string | undefined }) {
  const full = useScoped()(field);
  return (
    <input
      id={fieldId(full)}
      aria-invalid={error ? true : undefined}
      aria-describedby={error ? `${fieldId(full)}-error` : undefined}
      className={inputCls(className)}
      {...rest}
    />
  );
}

/** An ordered list of strings (argv), one input per item. */
export function ListEditor({ field, items, onChange, label, placeholder, error }: {
  field: string;
  items: string[];
  onChange: (items: string[]) => void;
  label: (i: number) => string;
  placeholder: (i: number) => string;
  error?: string | undefined;
}) {
  const full = useScoped()(field);
  return (
    <div className="space-y-2" id={fieldId(full)}>
      {items.map((item, i) => (
        <div key={i} className="flex items-center gap-2">
          <span className="w-6 text-right font-mono text-xs text-slate-400">{i}</span>
          <input
            aria-label={label(i)}
            aria-invalid={error ? true : undefined}
            value={item}
            placeholder={placeholder(i)}
            onChange={(e) => onChange(items.map((x, j) => (j === i ? e.target.value : x)))}
            className={clsx(inputClass, 'font-mono')}
          />
          <button
            type="button"
            aria-label={`Remove ${label(i)}`}
            disabled={items.length === 1}
            onClick={() => onChange(items.filter((_, j) => j !== i))}
            className="rounded p-1.5 text-slate-400 hover:bg-slate-100 hover:text-rose-600 disabled:opacity-30"
          >
            <Trash2 className="size-4" />
          </button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...items, ''])} className="ml-8 inline-flex items-center gap-1 text-sm font-medium text-indigo-600 hover:text-indigo-500">
        <Plus className="size-3.5" /> Add argument
      </button>
    </div>
  );
}

/** Name/value rows (env, headers). */
export function PairsEditor({ field, pairs, onChange, keyLabel, valueLabel, addLabel, error }: {
  field: string;
  pairs: Pair[];
  onChange: (pairs: Pair[]) => void;
  keyLabel: string;
  valueLabel: string;
  addLabel: string;
  error?: string | undefined;
}) {
  const full = useScoped()(field);
  return (
    <div className="space-y-2" id={fieldId(full)}>
      {pairs.map((pair, i) => (
        <div key={i} className="grid grid-cols-[2fr_3fr_auto] items-center gap-2">
          <input
            aria-label={`${keyLabel} ${i + 1}`}
            aria-invalid={error ? true : undefined}
            value={pair.key}
            placeholder={keyLabel}
            onChange={(e) => onChange(pairs.map((p, j) => (j === i ? { ...p, key: e.target.value } : p)))}
            className={clsx(inputClass, 'font-mono')}
          />
          <input
            aria-label={`${valueLabel} ${i + 1}`}
            value={pair.value}
            placeholder={valueLabel}
            onChange={(e) => onChange(pairs.map((p, j) => (j === i ? { ...p, value: e.target.value } : p)))}
            className={clsx(inputClass, 'font-mono')}
          />
          <button
            type="button"
            aria-label={`Remove ${keyLabel} ${i + 1}`}
            onClick={() => onChange(pairs.filter((_, j) => j !== i))}
            className="rounded p-1.5 text-slate-400 hover:bg-slate-100 hover:text-rose-600"
          >
            <Trash2 className="size-4" />
          </button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...pairs, { key: '', value: '' }])} className="inline-flex items-center gap-1 text-sm font-medium text-indigo-600 hover:text-indigo-500">
        <Plus className="size-3.5" /> {addLabel}
      </button>
      <FieldError field={field} error={error} />
    </div>
  );
}

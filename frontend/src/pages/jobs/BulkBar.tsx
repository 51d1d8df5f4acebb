// The action bar above a jobs table: what is selected, what can be done with
// it, and "act on all matching this filter".
import { useState, type ComponentType } from 'react';
import { Ban, RotateCcw, Trash2, X } from 'lucide-react';
import type { Job, JobFilter } from '../../api/types';
import { Button } from '../../components/ui';
import { Dialog } from '../../components/Dialog';
import { appliesTo, type BulkAction } from './bulk';
import type { useBulk } from './useBulk';

type Bulk = ReturnType<typeof useBulk>;

const ACTIONS: Record<
  BulkAction,
  { label: string; doing: string; icon: ComponentType<{ className?: string }>; variant: 'secondary' | 'danger'; title: string; confirm: string; explain: string }
> = {
  retry: {
    label: 'Retry',
    doing: 'Retrying',
    icon: RotateCcw,
    variant: 'secondary',
    title: 'Retry every matching job?',
    confirm: 'Retry all matching',
    explain: 'Every matching job that is dead, cancelled or skipped is queued again with a fresh attempt budget. Other jobs are skipped.',
  },
  cancel: {
    label: 'Cancel',
    doing: 'Cancelling',
    icon: Ban,
    variant: 'danger',
    title: 'Cancel every matching job?',
    confirm: 'Cancel all matching',
    explain: 'Every matching job that is blocked, scheduled, queued or running is cancelled; running jobs are stopped. Finished jobs are skipped.',
  },
  delete: {
    label: 'Delete',
    doing: 'Deleting',
    icon: Trash2,
    variant: 'danger',
    title: 'Delete every matching job?',
    confirm: 'Delete all matching',
    explain: 'Every matching job that has finished is deleted with its attempts and output. This cannot be undone. Jobs still going are skipped.',
  },
};

function describeFilter(filter: JobFilter): string {
  const parts: string[] = [];
  if (filter.status) parts.push(`status ${filter.status}`);
  if (filter.queue) parts.push(`queue ${filter.queue}`);
  if (filter.kind) parts.push(`kind ${filter.kind}`);
  if (filter.name) parts.push(`name containing “${filter.name}”`);
  return parts.length ? parts.join(', ') : 'no filter: every job';
}

export function BulkBar({ bulk, selectedJobs, onClear, filter, actions }: {
  bulk: Bulk;
  selectedJobs: readonly Job[];
  onClear: () => void;
  filter: JobFilter;
  actions: readonly BulkAction[];
}) {
  // Which confirmation is open: everything matching, or (for delete) the selection.
  const [confirm, setConfirm] = useState<{ action: BulkAction; scope: 'all' | 'selection' } | null>(null);
  const busy = bulk.run !== null;
  const count = (action: BulkAction) => selectedJobs.filter((j) => appliesTo(action, j.status)).length;
  const meta = confirm ? ACTIONS[confirm.action] : null;

  return (
    <div className="flex min-h-12 flex-wrap items-center gap-2 border-b border-slate-100 px-5 py-2">
      {bulk.run ? (
        <div className="flex flex-1 items-center gap-3 text-sm" data-testid="bulk-progress">
          <span className="font-medium text-slate-800">
            {ACTIONS[bulk.run.action].doing} {bulk.run.scope === 'all' ? 'all matching' : 'selected'} jobs…
          </span>
          <span className="tabular-nums text-slate-500">
            {bulk.run.progress.done} done · {bulk.run.progress.skipped} skipped · {bulk.run.progress.failed} failed
            {bulk.run.scope === 'all' && ` · ${bulk.run.progress.scanned} matched`}
          </span>
          <Button size="sm" variant="ghost" onClick={bulk.stop}>
            Stop
          </Button>
        </div>
      ) : selectedJobs.length > 0 ? (
        <div className="flex flex-1 flex-wrap items-center gap-2" data-testid="selection-bar">
          <span className="mr-1 text-sm font-medium text-indigo-700">{selectedJobs.length} selected</span>
          {actions.map((action) => {
            const a = ACTIONS[action];
            return (
              <Button
                key={action}
                size="sm"
                variant={a.variant}
                need="admin"
                data-testid={`selection-${action}`}
                disabled={count(action) === 0}
                onClick={() => (action === 'delete' ? setConfirm({ action, scope: 'selection' }) : void bulk.onSelection(action, selectedJobs).then(onClear))}
              >
                <a.icon className="size-3.5" aria-hidden /> {a.label} {count(action)}
              </Button>
            );
          })}
          <Button size="sm" variant="ghost" onClick={onClear}>
            <X className="size-3.5" aria-hidden /> Clear
          </Button>
        </div>
      ) : (
        <p className="flex-1 text-sm text-slate-500">Select rows to act on them, or act on everything matching the filter.</p>
      )}
      {!busy && (
        <div className="flex items-center gap-2">
          {actions.map((action) => (
            <Button key={action} size="sm" variant="secondary" need="admin" onClick={() => setConfirm({ action, scope: 'all' })} data-testid={`${action}-all-matching`}>
              {ACTIONS[action].label} all matching…
            </Button>
          ))}
        </div>
      )}
      <Dialog
        open={confirm !== null}
        onClose={() => setConfirm(null)}
        title={confirm?.scope === 'selection' ? `Delete ${count(confirm.action)} selected ${count(confirm.action) === 1 ? 'job' : 'jobs'}?` : (meta?.title ?? '')}
        footer={
          <>
            <Button onClick={() => setConfirm(null)}>Keep them</Button>
            <Button
              variant={meta?.variant === 'danger' ? 'danger' : 'primary'}
              data-testid="confirm-bulk"
              onClick={() => {
                const chosen = confirm;
                setConfirm(null);
                if (!chosen) return;
                if (chosen.scope === 'all') void bulk.onAllMatching(chosen.action, filter);
                else void bulk.onSelection(chosen.action, selectedJobs).then(onClear);
              }}
            >
              {confirm?.scope === 'selection' ? `Delete ${confirm ? count(confirm.action) : ''}` : meta?.confirm}
            </Button>
          </>
        }
      >
        {confirm?.scope === 'selection' ? (
          <p>The selected finished jobs are deleted with their attempts and output. This cannot be undone.</p>
        ) : (
          <>
            <p>
              Filter: <span className="font-medium text-slate-800">{describeFilter(filter)}</span>.
            </p>
            <p className="mt-2">{meta?.explain} The server acts on up to 10,000 jobs a request; the page asks again until none are left. You can stop it at any time.</p>
          </>
        )}
      </Dialog>
    </div>
  );
}

import { PartyPopper, RotateCcw, Trash2 } from 'lucide-react';
import type { ListParams } from '../../api/endpoints';
import { useStats } from '../../api/queries';
import { Button, EmptyState, PageHeader } from '../../components/ui';
import { formatCount } from '../../lib/format';
import { JobListView } from '../jobs/JobListView';

const DEAD: Partial<ListParams> = { status: 'dead' };

export function DeadLettersPage() {
  const stats = useStats();
  const dead = stats.data?.counts['dead'];
  return (
    <>
      <PageHeader
        title="Dead letters"
        description={
          <>
            Jobs that used up their attempts or failed permanently{dead !== undefined && <> — {formatCount(dead)} in all</>}. Retrying
            queues a job again with a fresh attempt budget; deleting removes it with its attempts.
          </>
        }
      />
      <JobListView
        fixed={DEAD}
        variant="dead"
        actions={['retry', 'delete']}
        rowActions={(job, bulk) => (
          <div className="inline-flex gap-1.5">
            <Button size="sm" need="admin" data-testid="retry-one" disabled={bulk.run !== null} onClick={() => void bulk.onSelection('retry', [job])}>
              <RotateCcw className="size-3.5" aria-hidden /> Retry
            </Button>
            <Button size="sm" variant="danger" need="admin" data-testid="delete-one" aria-label={`Delete ${job.name}`} disabled={bulk.run !== null} onClick={() => void bulk.onSelection('delete', [job])}>
              <Trash2 className="size-3.5" aria-hidden />
            </Button>
          </div>
        )}
        empty={(filtered) =>
          filtered ? (
            <EmptyState title="No dead jobs match these filters" />
          ) : (
            <EmptyState title="No dead letters" icon={<PartyPopper className="size-5" />}>
              Every job either succeeded, is still going, or was cancelled.
            </EmptyState>
          )
        }
      />
    </>
  );
}

import { Link } from 'react-router';
import { ListChecks } from 'lucide-react';
import { JobListView } from './JobListView';
import { EmptyState, GatedLink, PageHeader } from '../../components/ui';

export function JobsPage() {
  return (
    <>
      <PageHeader
        title="Jobs"
        description="Every job, newest or highest priority first. Filters live in the address bar, so a view can be bookmarked."
        actions={
          <GatedLink need="submit" to="/jobs/new" className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-500">
            New job
          </GatedLink>
        }
      />
      <JobListView
        actions={['retry', 'cancel']}
        empty={(filtered) =>
          filtered ? (
            <EmptyState title="No jobs match these filters">Try a broader search, or clear the filters.</EmptyState>
          ) : (
            <EmptyState title="No jobs yet" icon={<ListChecks className="size-5" />}>
              Submit one with <Link className="font-medium text-indigo-600" to="/jobs/new">New job</Link> or{' '}
              <code className="rounded bg-slate-100 px-1 font-mono text-xs">POST /api/v1/jobs</code>.
            </EmptyState>
          )
        }
      />
    </>
  );
}

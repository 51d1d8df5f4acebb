import { useQueryClient } from '@tanstack/react-query';
import { useLocation, useNavigate } from 'react-router';
import { api } from '../../api/endpoints';
import { keys } from '../../api/queries';
import type { Job } from '../../api/types';
import { PageHeader } from '../../components/ui';
import { useToast } from '../../components/toast';
import { useKnownKinds, useKnownQueues } from '../../lib/known';
import { NewJobForm } from './NewJobForm';
import { formFromJob } from '../../forms/jobForm';

export function NewJobPage() {
  const navigate = useNavigate();
  const location = useLocation();
  const client = useQueryClient();
  const toast = useToast();
  const queues = useKnownQueues();
  const kinds = useKnownKinds();
  const from = (location.state as { from?: Job } | null)?.from;

  return (
    <>
      <PageHeader
        title={from ? `New job from “${from.name}”` : 'New job'}
        description="Submit one job. Everything is checked here first, with the same rules as the server."
      />
      <NewJobForm
        key={from?.id ?? 'new'}
        {...(from ? { initial: formFromJob(from) } : {})}
        knownQueues={queues}
        knownKinds={kinds}
        onSubmit={api.submitJob}
        onCreated={(job) => {
          // Show it at once, and re-read it: events may have moved it on already.
          client.setQueryData(keys.job(job.id), { ...job, attempts: [] });
          void client.invalidateQueries({ queryKey: keys.job(job.id) });
          void client.invalidateQueries({ queryKey: keys.jobLists() });
          toast('success', `Job ${job.name} submitted`);
          navigate(`/jobs/${job.id}`);
        }}
        onSchedule={api.createSchedule}
        onScheduled={(schedule) => {
          client.setQueryData(keys.schedule(schedule.id), schedule);
          void client.invalidateQueries({ queryKey: keys.schedules() });
          toast('success', `Schedule ${schedule.name} created`);
          navigate(`/schedules/${schedule.id}`);
        }}
      />
    </>
  );
}

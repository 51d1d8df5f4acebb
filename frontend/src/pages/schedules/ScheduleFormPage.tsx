import { useQueryClient } from '@tanstack/react-query';
import { useNavigate, useParams } from 'react-router';
import { api } from '../../api/endpoints';
import { keys, useDefinitions, useSchedule, useWorkflows } from '../../api/queries';
import type { ScheduleDetail } from '../../api/types';
import { useToast } from '../../components/toast';
import { LoadError, PageHeader, Skeleton } from '../../components/ui';
import { useKnownKinds, useKnownQueues } from '../../lib/known';
import { ScheduleForm } from './ScheduleForm';
import { emptyScheduleForm, patchFrom, scheduleFormFrom } from './scheduleForm';

function useFormOptions() {
  const definitions = useDefinitions();
  const workflows = useWorkflows();
  return {
    definitions: definitions.data?.definitions.map((d) => d.name),
    workflows: workflows.data?.workflows.map((w) => w.name),
    knownQueues: useKnownQueues(),
    knownKinds: useKnownKinds(),
  };
}

function useSaved(verb: string) {
  const client = useQueryClient();
  const toast = useToast();
  const navigate = useNavigate();
  return (detail: ScheduleDetail) => {
    client.setQueryData(keys.schedule(detail.id), detail);
    void client.invalidateQueries({ queryKey: keys.schedules() });
    toast('success', `Schedule ${detail.name} ${verb}`);
    navigate(`/schedules/${detail.id}`);
  };
}

export function NewSchedulePage() {
  const options = useFormOptions();
  const saved = useSaved('created');
  return (
    <>
      <PageHeader title="New schedule" description="A job or a workflow run on a cron expression, or once at a set time." />
      <ScheduleForm initial={emptyScheduleForm()} editing={false} onSubmit={api.createSchedule} onSaved={saved} {...options} />
    </>
  );
}

export function EditSchedulePage() {
  const { id = '' } = useParams();
  const schedule = useSchedule(id);
  const options = useFormOptions();
  const saved = useSaved('saved');
  const original = schedule.data;
  return (
    <>
      <PageHeader title={original ? `Edit ${original.name}` : 'Edit schedule'} description="A changed time recomputes the next fire from now; other changes keep it." />
      {schedule.isPending ? (
        <Skeleton className="h-96 w-full rounded-xl" />
      ) : schedule.isError || !original ? (
        <LoadError error={schedule.error} feature="Schedules" onRetry={() => void schedule.refetch()} />
      ) : (
        <ScheduleForm
          key={original.id}
          initial={scheduleFormFrom(original)}
          editing
          keptRunAt={original.run_at}
          requestBody={(spec) => patchFrom(original, spec)}
          onSubmit={(spec) => api.updateSchedule(original.id, patchFrom(original, spec))}
          onSaved={saved}
          {...options}
        />
      )}
    </>
  );
}

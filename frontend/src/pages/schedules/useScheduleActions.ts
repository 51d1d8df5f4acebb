import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/endpoints';
import { keys } from '../../api/queries';
import type { Schedule, ScheduleDetail } from '../../api/types';
import { useToast } from '../../components/toast';

/** Pause, resume and delete, with the cache updated and a toast. */
export function useScheduleActions() {
  const client = useQueryClient();
  const toast = useToast();
  const settle = (detail: ScheduleDetail) => {
    client.setQueryData(keys.schedule(detail.id), detail);
    void client.invalidateQueries({ queryKey: keys.schedules() });
  };
  const fail = (e: unknown) => toast('error', e instanceof Error ? e.message : String(e));
  const pause = useMutation({
    mutationFn: (s: Schedule) => api.pauseSchedule(s.id),
    onSuccess: (d) => {
      settle(d);
      toast('success', `Schedule ${d.name} paused`);
    },
    onError: fail,
  });
  const resume = useMutation({
    mutationFn: (s: Schedule) => api.resumeSchedule(s.id),
    onSuccess: (d) => {
      settle(d);
      toast('success', `Schedule ${d.name} resumed`);
    },
    onError: fail,
  });
  const remove = useMutation({
    mutationFn: (s: Schedule) => api.deleteSchedule(s.id).then(() => s),
    onSuccess: (s) => {
      client.removeQueries({ queryKey: keys.schedule(s.id) });
      void client.invalidateQueries({ queryKey: keys.schedules() });
      toast('success', `Schedule ${s.name} deleted; the jobs it made stay`);
    },
    onError: fail,
  });
  return { pause, resume, remove };
}

-- No join of a statement's two transition tables with a cached plan.
-- Measurements: docs/performance.md ("A retry of many jobs after a retry of
-- one").
--
-- PL/pgSQL plans each statement of a trigger function at its first call on
-- a connection and keeps that plan; the planner sizes `old_rows` and
-- `new_rows` by what they held at that call. A join of the two planned when
-- they held one row is a nested loop, which on a later statement of n rows
-- compares n × n pairs: on one connection, a retry of one dead job followed
-- by a retry of 20,000 took 54.7 s (0.8 s on a fresh connection).
--
-- * `live_jobs_update` brought retried jobs back by joining the two tables
--   to find the rows that were final. It now inserts every live row of the
--   statement and skips those that have an entry (`on conflict do nothing`:
--   a primary-key probe each), and only when some old row was final, as
--   before, so claims and finishes never run it.
-- * `jobs_webhook_events` needs each row's old status (an event is sent
--   only when the status changed). Its two statements that join the tables
--   now run through `execute`, planned at every call with the tables' real
--   sizes; they run only while an enabled webhook wants those events.

create or replace function live_jobs_update() returns trigger language plpgsql as $$
begin
    if exists (select 1 from new_rows
               where status in ('succeeded', 'dead', 'cancelled', 'skipped')) then
        delete from live_jobs l using new_rows n
        where l.id = n.id and n.status in ('succeeded', 'dead', 'cancelled', 'skipped');
    end if;
    update live_jobs l set status = live_status(n.status), run_at = n.run_at
    from new_rows n
    where l.id = n.id and n.status in ('blocked', 'scheduled', 'queued', 'running')
      and (l.status, l.run_at) is distinct from (live_status(n.status), n.run_at);
    if exists (select 1 from old_rows
               where status in ('succeeded', 'dead', 'cancelled', 'skipped')) then
        -- A live row without an entry was final before this statement.
        insert into live_jobs (id, status, run_at)
        select n.id, live_status(n.status), n.run_at
        from new_rows n
        where n.status in ('blocked', 'scheduled', 'queued', 'running')
        on conflict (id) do nothing;
    end if;
    return null;
end $$;

create or replace function jobs_webhook_events() returns trigger language plpgsql as $$
declare
    wants_jobs boolean;
    wants_runs boolean;
begin
    -- The whole cost when no enabled webhook wants these events.
    select coalesce(bool_or(events && array['job.succeeded', 'job.dead']::text[]), false),
           coalesce(bool_or('workflow_run.finished' = any(events)), false)
      into wants_jobs, wants_runs
      from webhooks where enabled;

    if wants_jobs then
        execute $sql$
        insert into webhook_deliveries (id, webhook_id, event, payload)
        select d.id, d.webhook_id, d.event,
               jsonb_build_object('id', d.id, 'event', d.event,
                                  'created_at', webhook_time(now()),
                                  'data', jsonb_build_object('job', d.job))
        from (
            select conveyor_uuid_v7() as id, w.id as webhook_id, e.event,
                   -- Never the payload: its env and headers may hold secrets.
                   jsonb_build_object(
                       'id', n.id, 'queue', n.queue, 'kind', n.kind, 'name', n.name,
                       'status', n.status, 'attempt', n.attempt,
                       'max_attempts', n.max_attempts, 'last_error', n.last_error,
                       'result', n.result, 'workflow_run_id', n.workflow_run_id,
                       'node_key', n.node_key, 'schedule_id', n.schedule_id,
                       'created_at', webhook_time(n.created_at),
                       'finished_at', webhook_time(n.finished_at)) as job
            from new_rows n
            join old_rows o on o.id = n.id
            cross join lateral (
                select case n.status when 'succeeded' then 'job.succeeded' else 'job.dead' end
                       as event
            ) e
            join webhooks w on w.enabled and e.event = any(w.events)
                and (cardinality(w.queues) = 0 or n.queue = any(w.queues))
                and (cardinality(w.workflow_ids) = 0 or exists (
                        select 1 from workflow_runs r
                        where r.id = n.workflow_run_id and r.workflow_id = any(w.workflow_ids)))
            where n.status in ('succeeded', 'dead') and o.status <> n.status
            order by n.id, w.id
        ) d
        $sql$;
    end if;

    if wants_runs then
        execute $sql$
        insert into webhook_run_checks (run_id)
        select distinct n.workflow_run_id
        from new_rows n join old_rows o on o.id = n.id
        where n.workflow_run_id is not null
          and n.status in ('succeeded', 'dead', 'cancelled', 'skipped')
          and o.status <> n.status
        $sql$;
    end if;
    return null;
end $$;

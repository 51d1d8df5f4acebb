-- Cheaper claims and single submits: the job's spec checked when it is
-- written, not at every status change; one trigger function per event
-- instead of two; claims leave `live_jobs` without probing it.
-- Measurements: docs/performance.md ("Checks once, one trigger, and claims
-- that skip live_jobs").
--
-- 1. The spec's checks run when the spec is written.
--
-- PostgreSQL evaluates every CHECK constraint of a table for every row an
-- UPDATE writes, whichever columns it sets, and reads each constraint's
-- expression back and prepares it once per statement. Eight of the thirteen
-- checks of `jobs` concern the job's spec (queue, priority, attempts,
-- backoff, timeout, its schedule or workflow origin), which no status change
-- sets. They become one function, `jobs_spec_violation`, called by the
-- insert trigger over the statement's new rows and by a row trigger that
-- fires only for an UPDATE whose SET list names a spec column (none of
-- Conveyor's do; a hand-written one is checked as before). A violation is
-- the same error as before: SQLSTATE 23514 naming the constraint. The five
-- checks of the state (attempt counts, lease iff running, finished_at iff
-- final, pending parents) stay constraints.
--
-- 2. One trigger function per event.
--
-- Each statement trigger costs a PL/pgSQL call per statement (a single-row
-- submit paid two after its insert, a claim or finish two after its update).
-- `jobs_inserted` and `jobs_updated` do what the counters' and `live_jobs`'
-- functions did, in one call each. The webhook trigger is left as it is.
--
-- 3. Claims leave `live_jobs` without probing it.
--
-- Since migration 0015 a running job keeps its `queued` entry, so a
-- statement that only moves queued jobs to running (every claim of a queued
-- job: nothing else does that) changes no entry; the update function
-- probed each one anyway. It now sees that from the transition tables
-- alone and returns.

create function jobs_spec_violation(
    queue text, priority smallint, max_attempts integer, backoff_base_ms integer,
    backoff_max_ms integer, timeout_secs integer, schedule_id uuid,
    fire_time timestamptz, workflow_run_id uuid, node_key text
) returns text language sql immutable parallel safe as $$
    select case
        when not (length(queue) between 1 and 64
                  and ltrim(queue, 'abcdefghijklmnopqrstuvwxyz0123456789_.:-ABCDEFGHIJKLMNOPQRSTUVWXYZ') = '')
            then 'jobs_queue_check'
        when not (priority between 0 and 9) then 'jobs_priority_check'
        when not (max_attempts between 1 and 1000) then 'jobs_max_attempts_check'
        when not (backoff_base_ms >= 0) then 'jobs_backoff_base_ms_check'
        when not (backoff_max_ms >= backoff_base_ms) then 'jobs_check'
        when not (timeout_secs > 0) then 'jobs_timeout_secs_check'
        when not (fire_time is not null or schedule_id is null) then 'jobs_fire_has_time'
        when not ((workflow_run_id is null) = (node_key is null)) then 'jobs_node_has_run'
    end
$$;

create function jobs_spec_refuse(violated text) returns void language plpgsql as $$
begin
    raise exception 'new row for relation "jobs" violates check constraint "%"', violated
        using errcode = 'check_violation', constraint = violated, table = 'jobs';
end $$;

alter table jobs
    drop constraint jobs_queue_check,
    drop constraint jobs_priority_check,
    drop constraint jobs_max_attempts_check,
    drop constraint jobs_backoff_base_ms_check,
    drop constraint jobs_check,
    drop constraint jobs_timeout_secs_check,
    drop constraint jobs_fire_has_time,
    drop constraint jobs_node_has_run;

create function jobs_inserted() returns trigger language plpgsql as $$
declare
    violated text;
begin
    select v into violated from (
        select jobs_spec_violation(queue, priority, max_attempts, backoff_base_ms,
                                   backoff_max_ms, timeout_secs, schedule_id, fire_time,
                                   workflow_run_id, node_key) as v
        from new_rows
    ) s where v is not null limit 1;
    if violated is not null then
        perform jobs_spec_refuse(violated);
    end if;

    insert into live_jobs (id, status, run_at)
    select id, live_status(status), run_at from new_rows
    where status in ('blocked', 'scheduled', 'queued', 'running');

    insert into job_count_deltas (queue, status, n)
    select queue, status, count(*) from new_rows group by 1, 2;
    insert into job_throughput_deltas (minute, queue, status, n)
    select date_trunc('minute', finished_at), queue, status, count(*) from new_rows
    where finished_at is not null group by 1, 2, 3;
    return null;
end $$;

create function jobs_spec_rechecked() returns trigger language plpgsql as $$
declare
    violated text := jobs_spec_violation(new.queue, new.priority, new.max_attempts,
                                         new.backoff_base_ms, new.backoff_max_ms,
                                         new.timeout_secs, new.schedule_id, new.fire_time,
                                         new.workflow_run_id, new.node_key);
begin
    if violated is not null then
        perform jobs_spec_refuse(violated);
    end if;
    return new;
end $$;

create function jobs_updated() returns trigger language plpgsql as $$
begin
    -- Counters: one delta per (queue, status) the statement changed.
    with d as (
        select queue, status, sum(d) as n from (
            select queue, status, -1 as d from old_rows
            union all
            select queue, status, 1 from new_rows
        ) x group by 1, 2 having sum(d) <> 0
    ), counted as (
        insert into job_count_deltas (queue, status, n) select queue, status, n from d
    )
    insert into job_throughput_deltas (minute, queue, status, n)
    select date_trunc('minute', now()), queue, status, n from d
    where n > 0 and status in ('succeeded', 'dead', 'cancelled', 'skipped');

    -- live_jobs. Queued to running (a claim) changes no entry: a running
    -- job keeps its queued one.
    if not exists (select 1 from new_rows where status <> 'running')
       and not exists (select 1 from old_rows where status <> 'queued') then
        return null;
    end if;
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
        -- A live row without an entry was final before this statement
        -- (migration 0016: no join of the two transition tables).
        insert into live_jobs (id, status, run_at)
        select n.id, live_status(n.status), n.run_at
        from new_rows n
        where n.status in ('blocked', 'scheduled', 'queued', 'running')
        on conflict (id) do nothing;
    end if;
    return null;
end $$;

drop trigger jobs_count_insert on jobs;
drop trigger live_jobs_insert on jobs;
drop trigger jobs_count_update on jobs;
drop trigger live_jobs_update on jobs;
drop function jobs_count_insert();
drop function live_jobs_insert();
drop function jobs_count_update();
drop function live_jobs_update();

create trigger jobs_inserted after insert on jobs
    referencing new table as new_rows
    for each statement execute function jobs_inserted();
create trigger jobs_updated after update on jobs
    referencing old table as old_rows new table as new_rows
    for each statement execute function jobs_updated();
create trigger jobs_spec_rechecked before update of
        queue, priority, max_attempts, backoff_base_ms, backoff_max_ms, timeout_secs,
        schedule_id, fire_time, workflow_run_id, node_key on jobs
    for each row execute function jobs_spec_rechecked();

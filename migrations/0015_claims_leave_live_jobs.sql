-- Claims that leave `live_jobs` alone.
-- Measurements: docs/performance.md ("Claims that leave live_jobs alone").
--
-- A claim rewrote the `live_jobs` row of each job it took (queued ->
-- running, a lease), an update that could not be HOT: the status is in the
-- predicate of every partial index, the lease in one of them. It was a third
-- of a claim's cost in PostgreSQL. The running status and the lease were
-- indexed there for three readers only: the leader's reclaim of expired
-- leases, the list of running jobs, and the workers page. They now start
-- from Redis's in-flight sets (ids by lease deadline, which the claim script
-- and the heartbeat keep) and check each id in `jobs` by its primary key;
-- the rebuild after Redis lost its data restores those sets from the
-- running jobs found here.
--
-- So `live_jobs` now says "not final" and, of the jobs not final, which are
-- blocked, scheduled, or queued-or-running: a running job keeps the
-- `queued` entry it had, and `jobs.status` says which of the two it is. The
-- queued list reads the `queued` entries and skips the running ones (at
-- most the workers' slots). A claim changes nothing here; a lease renewal
-- neither.

drop index live_jobs_lease;
alter table live_jobs drop column lease_expires_at;
update live_jobs set status = 'queued' where status = 'running';
alter table live_jobs drop constraint live_jobs_status_check;
alter table live_jobs add constraint live_jobs_status_check
    check (status in ('blocked', 'scheduled', 'queued'));

-- The status a job not final has in `live_jobs`.
create function live_status(status job_status) returns job_status
language sql immutable parallel safe as $$
    select case when status = 'running' then 'queued'::job_status else status end
$$;

create or replace function live_jobs_insert() returns trigger language plpgsql as $$
begin
    insert into live_jobs (id, status, run_at)
    select id, live_status(status), run_at from new_rows
    where status in ('blocked', 'scheduled', 'queued', 'running');
    return null;
end $$;

-- An update may finish a live job (delete), change it (update) or bring a
-- finished one back (a retry: insert). Each row is compared with its entry
-- (a primary-key probe, as before), and only entries that differ are
-- written: a claim (queued -> running) and a lease renewal write nothing.
-- Comparing the statement's old and new rows instead would need a join of
-- the two transition tables, whose plan is cached from the first call: a
-- nested loop planned for one row then ran for batches of hundreds (1.35 ms
-- a claim statement in a drain; docs/performance.md).
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
        insert into live_jobs (id, status, run_at)
        select n.id, live_status(n.status), n.run_at
        from new_rows n join old_rows o on o.id = n.id
        where n.status in ('blocked', 'scheduled', 'queued', 'running')
          and o.status in ('succeeded', 'dead', 'cancelled', 'skipped');
    end if;
    return null;
end $$;

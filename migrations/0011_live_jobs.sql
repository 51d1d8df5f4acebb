-- Status changes as heap-only (HOT) updates of `jobs`.
-- Measurements and reasons: docs/performance.md ("HOT status changes").
--
-- Upgrading rewrites `jobs` (the generated column below) under an exclusive
-- lock: 6.4 s for a million jobs on the 2-core development machine, during
-- which submits and claims wait.
--
-- Every claim and finish changed `status`, and `status` (or a column that
-- changes with it: run_at, lease_expires_at, finished_at) was part of five
-- indexes, so every status change was a non-HOT update: a new entry in each
-- of the table's indexes, about 1.2 KB of WAL per transition, and index
-- entries left dead behind every drained job. Now no index of `jobs` names a
-- column that the hot path (queued -> running -> succeeded) changes, so those
-- updates rewrite the row in place on its page when there is room.
--
-- What the dropped indexes found is found here instead:
-- * jobs that are not final (blocked, scheduled, queued, running) by status,
--   due time or lease: `live_jobs`, a narrow table holding only them, kept
--   by statement triggers on `jobs` in the same transaction, so every
--   statement that changes a job (claim, finish, cancel, retry, promote,
--   reclaim, workflows) keeps it exact without knowing it exists;
-- * dead, cancelled and skipped jobs by status: `jobs_rare_final_id`, a
--   partial index on a generated column that is null for every other status
--   (queued, running and succeeded leave it null, so it never changes on the
--   hot path);
-- * succeeded jobs: a backward scan of the primary key (they are most jobs);
-- * finished jobs by age, for retention: the primary key in id order (UUIDv7
--   ids carry their creation time; see db::housekeeping::delete_finished).

create table live_jobs (
    id               uuid primary key,
    status           job_status not null
        check (status in ('blocked', 'scheduled', 'queued', 'running')),
    run_at           timestamptz not null,
    lease_expires_at timestamptz
);

-- One partial index a status rather than one on (status, id): a claim moves
-- a row from queued to running, and its new version then enters the primary
-- key and the lease index only.
create index live_jobs_blocked on live_jobs (id desc) where status = 'blocked';
create index live_jobs_scheduled on live_jobs (id desc) where status = 'scheduled';
create index live_jobs_queued on live_jobs (id desc) where status = 'queued';
create index live_jobs_due on live_jobs (run_at) where status = 'scheduled';
create index live_jobs_lease on live_jobs (lease_expires_at) where status = 'running';

insert into live_jobs (id, status, run_at, lease_expires_at)
select id, status, run_at, lease_expires_at from jobs
where status in ('blocked', 'scheduled', 'queued', 'running');

create function live_jobs_insert() returns trigger language plpgsql as $$
begin
    insert into live_jobs (id, status, run_at, lease_expires_at)
    select id, status, run_at, lease_expires_at from new_rows
    where status in ('blocked', 'scheduled', 'queued', 'running');
    return null;
end $$;

-- An update may finish a live job (delete), change it (update) or bring a
-- finished one back (a retry: insert). Each statement runs only when a row
-- of the transition tables calls for it (a claim deletes and inserts nothing).
create function live_jobs_update() returns trigger language plpgsql as $$
begin
    if exists (select 1 from new_rows
               where status in ('succeeded', 'dead', 'cancelled', 'skipped')) then
        delete from live_jobs l using new_rows n
        where l.id = n.id and n.status in ('succeeded', 'dead', 'cancelled', 'skipped');
    end if;
    update live_jobs l
    set status = n.status, run_at = n.run_at, lease_expires_at = n.lease_expires_at
    from new_rows n
    where l.id = n.id and n.status in ('blocked', 'scheduled', 'queued', 'running')
      and (l.status, l.run_at, l.lease_expires_at)
          is distinct from (n.status, n.run_at, n.lease_expires_at);
    if exists (select 1 from old_rows
               where status in ('succeeded', 'dead', 'cancelled', 'skipped')) then
        insert into live_jobs (id, status, run_at, lease_expires_at)
        select n.id, n.status, n.run_at, n.lease_expires_at
        from new_rows n join old_rows o on o.id = n.id
        where n.status in ('blocked', 'scheduled', 'queued', 'running')
          and o.status in ('succeeded', 'dead', 'cancelled', 'skipped');
    end if;
    return null;
end $$;

-- The counters' trigger of 0010 joined the old and new rows of every update
-- to find the jobs that had just finished; under a drain that join was the
-- costliest statement of the triggers. A statement never moves jobs both into
-- and out of one final status (a finish moves them in, a retry out), so the
-- jobs that just finished in a (queue, status) are its positive delta: the
-- throughput is taken from the counters' own deltas, by commit minute, with
-- no join.
create or replace function jobs_count_update() returns trigger language plpgsql as $$
begin
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
    return null;
end $$;

create function live_jobs_delete() returns trigger language plpgsql as $$
begin
    delete from live_jobs l using old_rows o where l.id = o.id;
    return null;
end $$;

create trigger live_jobs_insert after insert on jobs
    referencing new table as new_rows
    for each statement execute function live_jobs_insert();
create trigger live_jobs_update after update on jobs
    referencing old table as old_rows new table as new_rows
    for each statement execute function live_jobs_update();
create trigger live_jobs_delete after delete on jobs
    referencing old table as old_rows
    for each statement execute function live_jobs_delete();

drop index jobs_status_id;
drop index jobs_due;
drop index jobs_lease;
drop index jobs_finished_at;

-- Room on each page for the next versions of its rows (two per job on the
-- hot path), so the update can stay on the page. Set before the column
-- below, whose addition rewrites the table with it.
alter table jobs set (fillfactor = 60);

alter table jobs add column rare_final job_status
    generated always as (case when status in ('dead', 'cancelled', 'skipped') then status end) stored;

create index jobs_rare_final_id on jobs (rare_final, id desc) where rare_final is not null;

-- The hot path (claim, finish) without a row that every writer must lock,
-- and with one attempt write per attempt instead of two.
-- Measurements and reasons: docs/performance.md.

-- 1. Counters as appended deltas.
--
-- Before, each submit, claim and finish statement upserted the same
-- (queue, status) rows of job_counts and held their row locks until its
-- commit was fsynced, so writers of one queue committed one after another.
-- Now the statement triggers append their deltas to tables without indexes
-- (an insert locks nothing another writer needs). The housekeeping leader
-- folds them into the totals every tick (job_counts_fold), and readers see
-- totals + unfolded deltas through the job_counts and job_throughput views,
-- so what they read is exact at every moment, folded or not.

alter table job_counts rename to job_count_totals;
alter table job_throughput rename to job_throughput_totals;

create table job_count_deltas (
    queue  text not null,
    status job_status not null,
    n      bigint not null
);

create table job_throughput_deltas (
    minute timestamptz not null,
    queue  text not null,
    status job_status not null,
    n      bigint not null
);

-- Folded every tick; let autovacuum keep up with the churn.
alter table job_count_deltas set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);
alter table job_throughput_deltas set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

create view job_counts as
    select queue, status, sum(n)::int8 as n
    from (select queue, status, n from job_count_totals
          union all
          select queue, status, n from job_count_deltas) c
    group by queue, status;

create view job_throughput as
    select minute, queue, status, sum(n)::int8 as n
    from (select minute, queue, status, n from job_throughput_totals
          union all
          select minute, queue, status, n from job_throughput_deltas) t
    group by minute, queue, status;

drop function job_counts_apply(jsonb);

create or replace function jobs_count_insert() returns trigger language plpgsql as $$
begin
    insert into job_count_deltas (queue, status, n)
    select queue, status, count(*) from new_rows group by 1, 2;
    insert into job_throughput_deltas (minute, queue, status, n)
    select date_trunc('minute', finished_at), queue, status, count(*) from new_rows
    where finished_at is not null group by 1, 2, 3;
    return null;
end $$;

create or replace function jobs_count_update() returns trigger language plpgsql as $$
begin
    insert into job_count_deltas (queue, status, n)
    select queue, status, sum(d) from (
        select queue, status, -1 as d from old_rows
        union all
        select queue, status, 1 from new_rows
    ) x group by 1, 2 having sum(d) <> 0;
    insert into job_throughput_deltas (minute, queue, status, n)
    select date_trunc('minute', n.finished_at), n.queue, n.status, count(*)
    from new_rows n join old_rows o on o.id = n.id
    where o.finished_at is null and n.finished_at is not null
    group by 1, 2, 3;
    return null;
end $$;

-- Also deletes the attempts of deleted jobs (the foreign key is gone, below).
create or replace function jobs_count_delete() returns trigger language plpgsql as $$
begin
    insert into job_count_deltas (queue, status, n)
    select queue, status, -count(*) from old_rows group by 1, 2;
    delete from job_attempts a using old_rows o where a.job_id = o.id;
    return null;
end $$;

-- Moves the deltas into the totals, in one statement each, so a reader sees
-- either the deltas or their sum, never both or neither. Rows are folded in
-- key order so two folds at once cannot deadlock; a delta row is deleted by
-- exactly one of them.
create function job_counts_fold() returns void language sql as $$
    with d as (delete from job_count_deltas returning queue, status, n)
    insert into job_count_totals (queue, status, n)
    select queue, status, sum(n) from d group by 1, 2 order by 1, 2
    on conflict (queue, status) do update set n = job_count_totals.n + excluded.n;

    with d as (delete from job_throughput_deltas returning minute, queue, status, n)
    insert into job_throughput_totals (minute, queue, status, n)
    select minute, queue, status, sum(n) from d group by 1, 2, 3 order by 1, 2, 3
    on conflict (minute, queue, status) do update set n = job_throughput_totals.n + excluded.n;
$$;

-- 2. One attempt row per attempt, written when the attempt ends.
--
-- Before, a claim inserted the attempt row and the finish updated it: two
-- writes (and a foreign-key check) per attempt. The running attempt is
-- fully described by the job row (attempt, lease_owner, started_at), so the
-- attempt row is now inserted once, by whoever ends the attempt: the
-- worker's finish, or the leader's reclaim of an expired lease (`lost`).
-- Readers add the running attempt from the job row (db::jobs::attempts).
-- Attempts still open from before this migration are left as they are: their
-- finish updates them (db::claims::finish handles both).

alter table job_attempts drop constraint job_attempts_job_id_fkey;

-- 3. Fewer index entries per status change.
--
-- Every status change is a non-HOT update of `jobs` (status is indexed), so
-- each index gets a new entry for the new row version. The two unique
-- constraints on columns that are null for most jobs (idempotency key,
-- schedule fire) indexed every row anyway; as partial unique indexes they
-- hold only the rows that have a key or a fire, and `on conflict do nothing`
-- still sees them. jobs_schedule duplicated jobs_one_per_fire's columns.

alter table jobs drop constraint jobs_idempotency_unique;
create unique index jobs_idempotency_unique on jobs (queue, idempotency_key)
    where idempotency_key is not null;

alter table jobs drop constraint jobs_one_per_fire;
drop index jobs_schedule;
create unique index jobs_one_per_fire on jobs (schedule_id, fire_time)
    where schedule_id is not null;
